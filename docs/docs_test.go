// Package docs holds the documentation a co-op sysadmin reads before
// putting other people's servers on fedcommons. Its test runs what the
// install guide tells a reader to run, up to `helm install` (rendered with
// `helm template` instead: no cluster here), so that the guide cannot
// drift from the Makefile, the chart and the samples.
package docs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const repoRoot = ".."

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// shellCommands returns the commands of the ```sh blocks, continuation
// lines joined.
func shellCommands(doc string) []string {
	var out []string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(doc, -1) {
		joined := strings.ReplaceAll(block[1], "\\\n", " ")
		for _, line := range strings.Split(joined, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				out = append(out, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	return out
}

func find(t *testing.T, cmds []string, prefix string) string {
	t.Helper()
	for _, c := range cmds {
		if strings.HasPrefix(c, prefix) {
			return c
		}
	}
	t.Fatalf("install.md has no command starting with %q", prefix)
	return ""
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), stderr.String())
	}
	return out.String()
}

// TestInstallGuideRuns: the guide's make targets exist and do what it
// says, the chart it packages is the file it installs, and its `helm
// install` renders the operator with the image it built.
func TestInstallGuideRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds helm and packages the chart")
	}
	cmds := shellCommands(read(t, "install.md"))

	// make image: the dry run names the tarball the guide pushes.
	makeImage := strings.Fields(find(t, cmds, "make image"))
	dry := run(t, repoRoot, "make", append([]string{"-n"}, makeImage[1:]...)...)
	if !strings.Contains(dry, "bin/fedcommons-image.tar") || !strings.Contains(dry, "--ref registry.example.coop/fedcommons:v0.1.0") {
		t.Errorf("make image does not build bin/fedcommons-image.tar as registry.example.coop/fedcommons:v0.1.0:\n%s", dry)
	}
	for _, c := range cmds {
		if strings.Contains(c, "bin/fedcommons-image.tar") && !strings.HasPrefix(c, "make") && !strings.Contains(c, "registry.example.coop/fedcommons:v0.1.0") && !strings.HasPrefix(c, "kind") {
			t.Errorf("push command does not name the image built: %s", c)
		}
	}

	// make chart writes the file helm install is given.
	helm := strings.TrimSpace(run(t, repoRoot, "go", "tool", "-modfile=hack/tools/go.mod", "-n", "helm"))
	dist := t.TempDir()
	run(t, repoRoot, helm, "package", "charts/fedcommons", "--destination", dist)
	install := strings.Fields(find(t, cmds, "helm install"))
	chartFile := install[3]
	if _, err := os.Stat(filepath.Join(dist, filepath.Base(chartFile))); err != nil || filepath.Dir(chartFile) != "bin" {
		t.Fatalf("helm install is given %s, but make chart writes bin/%s", chartFile, mustOne(t, dist))
	}
	if !strings.Contains(read(t, filepath.Join(repoRoot, "Makefile")), "helm package charts/fedcommons --destination bin") {
		t.Error("make chart no longer packages into bin/")
	}

	// helm install, as helm template (same arguments, no cluster).
	args := append([]string{"template"}, install[2:]...)
	args[2] = filepath.Join(dist, filepath.Base(chartFile))
	rendered := run(t, repoRoot, helm, args...)
	rollout := find(t, cmds, "kubectl -n fedcommons-system rollout status deployment/")
	deployment := strings.TrimPrefix(strings.Fields(rollout)[len(strings.Fields(rollout))-1], "deployment/")
	var found bool
	for _, doc := range strings.Split(rendered, "\n---") {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name, Namespace string
			} `json:"metadata"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct{ Image string } `json:"containers"`
					} `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil || obj.Kind != "Deployment" {
			continue
		}
		found = true
		if obj.Metadata.Name != deployment || obj.Metadata.Namespace != "fedcommons-system" {
			t.Errorf("the guide waits for deployment/%s in fedcommons-system; the chart renders %s/%s", deployment, obj.Metadata.Namespace, obj.Metadata.Name)
		}
		if img := obj.Spec.Template.Spec.Containers[0].Image; img != "registry.example.coop/fedcommons:v0.1.0" {
			t.Errorf("the operator runs image %s, not the one the guide built", img)
		}
	}
	if !found {
		t.Fatal("helm template rendered no Deployment")
	}
}

func mustOne(t *testing.T, dir string) string {
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("helm package wrote %d files", len(entries))
	}
	return entries[0].Name()
}

// TestDocsReferToWhatExists: every file, sample and make target the docs
// name exists, and every link between them resolves.
func TestDocsReferToWhatExists(t *testing.T) {
	makefile := read(t, filepath.Join(repoRoot, "Makefile"))
	docs, _ := filepath.Glob("*.md")
	if len(docs) < 4 {
		t.Fatalf("docs: %v, want README, install, operating, moderation", docs)
	}
	for _, d := range docs {
		text := read(t, d)
		for _, m := range regexp.MustCompile(`\]\(([^)#]+)\)`).FindAllStringSubmatch(text, -1) {
			if strings.Contains(m[1], "://") {
				continue
			}
			if _, err := os.Stat(m[1]); err != nil {
				t.Errorf("%s links to %s, which does not exist", d, m[1])
			}
		}
		for _, m := range regexp.MustCompile(`(config/samples/[a-z0-9_./-]+\.yaml|charts/fedcommons/values\.yaml|config/crd)`).FindAllString(text, -1) {
			if _, err := os.Stat(filepath.Join(repoRoot, m)); err != nil {
				t.Errorf("%s names %s, which does not exist", d, m)
			}
		}
		for _, m := range regexp.MustCompile("`make ([a-z-]+)").FindAllStringSubmatch(text, -1) {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(m[1]) + `:`).MatchString(makefile) {
				t.Errorf("%s names make %s, which the Makefile does not have", d, m[1])
			}
		}
		for _, c := range shellCommands(text) {
			if strings.HasPrefix(c, "make ") && !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(strings.Fields(c)[1])+`:`).MatchString(makefile) {
				t.Errorf("%s runs %q: no such make target", d, c)
			}
		}
	}
}

// TestSamplesApplyAsTheGuideSays: `kubectl apply -k config/samples`
// builds (kustomize), with the namespace and Secrets the guide promises.
func TestSamplesApplyAsTheGuideSays(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no kubectl to run kustomize with")
	}
	out := run(t, repoRoot, kubectl, "kustomize", "config/samples")
	for _, want := range []string{"kind: Namespace", "name: riverside-smtp", "name: old-admin-token", "kind: Community"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl kustomize config/samples has no %q", want)
		}
	}
}
