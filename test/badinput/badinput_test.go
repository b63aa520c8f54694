package badinput

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/fedcommons/fedcommons/internal/testenv"
)

type badInput struct {
	file, reason, expect string
	docs                 [][]byte
}

func load(t *testing.T) []badInput {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var out []badInput
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in := badInput{file: f}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "# reason: "); ok {
				in.reason = v
			}
			if v, ok := strings.CutPrefix(line, "# expect: "); ok {
				in.expect = v
			}
		}
		if in.reason == "" || in.expect == "" {
			t.Fatalf("%s: needs a '# reason:' and an '# expect:' line", f)
		}
		for _, d := range bytes.Split(raw, []byte("\n---\n")) {
			in.docs = append(in.docs, d)
		}
		if len(in.docs) > 2 {
			t.Fatalf("%s: one document, or an object and its refused update", f)
		}
		out = append(out, in)
	}
	return out
}

func object(t *testing.T, file string, doc []byte) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(doc, &u.Object); err != nil {
		t.Fatalf("%s: not YAML a sysadmin could apply: %v", file, err)
	}
	return u
}

func TestBadInputsRefusedAtAdmission(t *testing.T) {
	inputs := load(t)
	if len(inputs) < 40 {
		t.Fatalf("%d bad inputs; the suite promises at least 40", len(inputs))
	}
	assets, err := testenv.Assets()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "badinput"}}); err != nil {
		t.Fatal(err)
	}

	refused := 0
	for _, in := range inputs {
		t.Run(strings.TrimSuffix(in.file, ".yaml"), func(t *testing.T) {
			obj := object(t, in.file, in.docs[0])
			var err error
			if len(in.docs) == 2 {
				if err := c.Create(ctx, obj); err != nil {
					t.Fatalf("%s: the original object must be valid: %v", in.file, err)
				}
				change := object(t, in.file, in.docs[1])
				change.SetResourceVersion(obj.GetResourceVersion())
				err = c.Update(ctx, change)
			} else {
				err = c.Create(ctx, obj)
			}
			switch {
			case err == nil:
				t.Errorf("%s (%s): admitted", in.file, in.reason)
			case !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err):
				t.Errorf("%s (%s): refused, but not as invalid input: %v", in.file, in.reason, err)
			case !strings.Contains(err.Error(), in.expect):
				t.Errorf("%s (%s): the message lacks %q:\n%v", in.file, in.reason, in.expect, err)
			default:
				refused++
				t.Logf("%s: %s", in.file, firstLine(err.Error()))
			}
		})
	}
	t.Logf("bad inputs tried: %d, refused with the expected message: %d", len(inputs), refused)
}

func firstLine(s string) string {
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
