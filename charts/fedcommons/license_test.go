package chart_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/fedcommons/fedcommons/internal/software"
)

// TestLicense: a co-op can only adopt the operator under a stated licence.
// The repository and the packaged chart carry the Apache-2.0 text, and
// Chart.yaml says so where Artifact Hub and `helm show chart` look.
func TestLicense(t *testing.T) {
	root, err := os.ReadFile(filepath.Join(repoRoot, "LICENSE"))
	if err != nil {
		t.Fatalf("the repository has no LICENSE: %v", err)
	}
	for _, want := range []string{"Apache License", "Version 2.0, January 2004", "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION", "END OF TERMS AND CONDITIONS"} {
		if !bytes.Contains(root, []byte(want)) {
			t.Errorf("LICENSE does not contain %q: it is not the Apache-2.0 text", want)
		}
	}
	chart, err := os.ReadFile("LICENSE")
	if err != nil {
		t.Fatalf("the chart has no LICENSE, so the packaged chart would carry none: %v", err)
	}
	if !bytes.Equal(root, chart) {
		t.Error("charts/fedcommons/LICENSE differs from the repository's LICENSE; copy it again")
	}

	var meta struct {
		Description string            `json:"description"`
		Annotations map[string]string `json:"annotations"`
	}
	raw, err := os.ReadFile("Chart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	if got := meta.Annotations["artifacthub.io/license"]; got != "Apache-2.0" {
		t.Errorf("Chart.yaml annotation artifacthub.io/license = %q, want Apache-2.0", got)
	}

	// The description promises only software with a profile.
	known := map[string]bool{"hometown": true, "glitch-soc": true} // Mastodon forks run through spec.image
	for _, n := range software.Names() {
		known[strings.ToLower(n)] = true
	}
	for _, name := range []string{"Akkoma", "Pleroma", "Misskey", "Friendica", "Pixelfed", "PeerTube", "Lemmy", "Sharkey"} {
		if regexp.MustCompile(`(?i)\b`+name+`\b`).MatchString(meta.Description) && !known[strings.ToLower(name)] {
			t.Errorf("Chart.yaml's description promises %s, which has no software profile (known: %v)", name, software.Names())
		}
	}
	if strings.Contains(meta.Description, "and others") {
		t.Errorf("Chart.yaml's description promises %q", "and others")
	}
}
