package localcluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	kustomization = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- a.yaml\n"
	stageA        = "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata:\n  name: a\nspec:\n  resourceRef:\n    apiGroup: v1\n    kind: Pod\n  next:\n    statusTemplate: |\n      apiVersion: not-a-document-start\n      phase: Running\n"
	stageB        = "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata:\n  name: b\nspec:\n  next:\n    delete: true\n"
)

func TestNormalizeStages(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  string
		wantN int
	}{
		{
			// What hack/k8s-assets.sh produces with cat: no separators.
			name:  "concatenated kustomize directory",
			in:    kustomization + stageA + stageB,
			want:  stageA + "---\n" + stageB,
			wantN: 2,
		},
		{
			name:  "well-formed stream",
			in:    "---\n" + stageA + "---\n" + stageB,
			want:  stageA + "---\n" + stageB,
			wantN: 2,
		},
		{
			name:  "CRLF line endings",
			in:    strings.ReplaceAll(stageB, "\n", "\r\n"),
			want:  stageB,
			wantN: 1,
		},
		{
			name:  "quoted kind",
			in:    "apiVersion: \"kwok.x-k8s.io/v1alpha1\"\nkind: 'Stage'\n",
			want:  "apiVersion: \"kwok.x-k8s.io/v1alpha1\"\nkind: 'Stage'\n",
			wantN: 1,
		},
		{name: "only a kustomization", in: kustomization, want: "", wantN: 0},
		{name: "a Stage of another group", in: "apiVersion: example.com/v1\nkind: Stage\n", want: "", wantN: 0},
		{name: "empty", in: "", want: "", wantN: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n := normalizeStages([]byte(tc.in))
			if string(got) != tc.want || n != tc.wantN {
				t.Errorf("got %d stages:\n%s\nwant %d:\n%s", n, got, tc.wantN, tc.want)
			}
		})
	}
}

func TestWriteStages(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "kwok-stages"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := stageSources(src); err == nil || !strings.Contains(err.Error(), "hack/k8s-assets.sh kwok") {
		t.Errorf("empty stage dir: want a hint to build, got %v", err)
	}
	for name, content := range map[string]string{"pod-fast.yaml": kustomization + stageA + stageB, "node-fast.yaml": stageB} {
		if err := os.WriteFile(filepath.Join(src, "kwok-stages", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := stageSources(src)
	if err != nil || len(files) != 2 || filepath.Base(files[0]) != "node-fast.yaml" {
		t.Fatalf("stageSources = %v, %v", files, err)
	}
	dst := filepath.Join(t.TempDir(), "out")
	written, err := writeStages(files, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dst, "pod-fast.yaml"))
	if len(written) != 2 || string(got) != stageA+"---\n"+stageB {
		t.Errorf("written %v, pod-fast.yaml:\n%s", written, got)
	}

	bad := filepath.Join(src, "kwok-stages", "zz-bad.yaml")
	if err := os.WriteFile(bad, []byte(kustomization), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := writeStages([]string{bad}, dst, nil); err == nil {
		t.Error("a file without Stages must be refused")
	}
}

// The demo's backup pods stay Running for its stand-in to run: the real
// pod-complete Stage gains a requirement kwok reads, the others do not.
func TestLeaveRunningNarrowsPodComplete(t *testing.T) {
	src, err := stageSources(testBinDir(t))
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	written, err := writeStages(src, dst, map[string]string{"fedcommons.io/component": "backup"})
	if err != nil {
		t.Fatal(err)
	}
	var all string
	for _, f := range written {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all += string(b)
	}
	want := "    - key: '.metadata.labels.[\"fedcommons.io/component\"]'\n      operator: 'NotIn'\n      values:\n      - 'backup'\n" + completeMarker
	if !strings.Contains(all, want) || strings.Count(all, "fedcommons.io/component") != 1 {
		t.Errorf("pod-complete not narrowed once:\n%s", all)
	}
	if _, err := leaveRunningIn([]byte("kind: Stage\nmetadata:\n  name: pod-complete\nspec: {}\n"), map[string]string{"a": "b"}); err == nil {
		t.Error("a pod-complete Stage of another shape was left as it was, silently")
	}
}
