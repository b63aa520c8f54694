package main

import (
	"os"
	"os/exec"
	"path"
	"strings"
	"testing"
)

// rigPackages are this module's test rig: what the demo (cmd/fedcommons-dev)
// and the tests link, and what the operator image must never carry. A
// package under any of them is refused.
var rigPackages = []string{
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver",
	"github.com/fedcommons/fedcommons/internal/localcluster",
	"github.com/fedcommons/fedcommons/internal/devcluster",
	"github.com/fedcommons/fedcommons/internal/testenv",
	"github.com/fedcommons/fedcommons/test",
}

// testNamedAllowed are packages with "test" in their name that every
// binary of this kind links whether it wants them or not; none of them
// serves, fakes or launches anything at run time.
var testNamedAllowed = map[string]string{
	"internal/testlog":  "the standard library's os imports it",
	"internal/synctest": "the standard library's sync imports it",
	"k8s.io/client-go/testing": "client-go's gentype (behind every typed client) imports it " +
		"for its fake clientsets' plumbing",
	"k8s.io/apimachinery/pkg/api/meta/testrestmapper": "k8s.io/client-go/testing imports it",
}

// TestShippedBinaryHasNoTestRig fails if the operator binary the Dockerfile
// ships (this command, built as it builds it: CGO_ENABLED=0 GOOS=linux)
// links a test double, a local cluster launcher or any package named like
// a test helper (net/http/httptest, controller-runtime's envtest, ...).
// The demo and the tests have cmd/fedcommons-dev and _test.go files for that.
func TestShippedBinaryHasNoTestRig(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH: put the Go toolchain on PATH to run this check")
	}
	cmd := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps: %v\n%s", err, stderr)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed only %d packages; the check would prove nothing: %q", len(deps), deps)
	}
	var bad []string
	for _, p := range deps {
		if reason := forbidden(p); reason != "" {
			bad = append(bad, "  "+p+" ("+reason+")")
		}
	}
	if len(bad) > 0 {
		t.Fatalf("the shipped operator binary (cmd/fedcommons) links test rig packages:\n%s\n"+
			"Whatever needs them belongs in cmd/fedcommons-dev or in _test.go files; "+
			"`go list -deps ./cmd/fedcommons` and `go mod why` show the path that brings each in.",
			strings.Join(bad, "\n"))
	}
}

// forbidden says why package p must not be in the shipped binary, or "".
func forbidden(p string) string {
	for _, rig := range rigPackages {
		if p == rig || strings.HasPrefix(p, rig+"/") {
			return "fedcommons test rig"
		}
	}
	if _, ok := testNamedAllowed[p]; ok {
		return ""
	}
	// Named like a test helper or double: testing, testenv, testutil,
	// httptest, envtest, fake, fakeserver... ("latest" is a version, not a test).
	name := strings.ToLower(path.Base(p))
	switch {
	case strings.HasPrefix(name, "test"), strings.HasSuffix(name, "test") && name != "latest":
		return "named like a test helper"
	case strings.HasPrefix(name, "fake"):
		return "named like a test double"
	}
	return ""
}

// TestForbidden pins the rule itself, so that a loosened check shows here
// rather than as a silent pass above.
func TestForbidden(t *testing.T) {
	for p, want := range map[string]bool{
		"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver": true,
		"github.com/fedcommons/fedcommons/internal/localcluster":                  true,
		"github.com/fedcommons/fedcommons/internal/devcluster":                    true,
		"github.com/fedcommons/fedcommons/internal/testenv":                       true,
		"github.com/fedcommons/fedcommons/internal/testenv/assets":                true,
		"net/http/httptest":                          true,
		"sigs.k8s.io/controller-runtime/pkg/envtest": true,
		"testing": true,
		"github.com/fedcommons/fedcommons/internal/moderation/drivers":                false,
		"github.com/fedcommons/fedcommons/internal/moderation/drivers/gotosocial":     false,
		"github.com/fedcommons/fedcommons/internal/localclusterconfig-does-not-exist": false,
		"k8s.io/client-go/testing":                       false,
		"k8s.io/client-go/kubernetes/fake":               true,
		"sigs.k8s.io/controller-runtime/pkg/client/fake": true,
		"k8s.io/client-go/tools/clientcmd/api/latest":    false,
		"github.com/example/contestant":                  false,
		"net/http":                                       false,
	} {
		if got := forbidden(p) != ""; got != want {
			t.Errorf("forbidden(%q) = %v, want %v", p, got, want)
		}
	}
}
