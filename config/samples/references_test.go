package samples_test

import (
	"os"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestSamplesCreateWhatTheyReference: `kubectl apply -k config/samples`
// creates every Secret a sample names, in the namespace it is looked up
// in, and that namespace (issue 15: riverside-smtp and old-admin-token
// were referenced and never created).
func TestSamplesCreateWhatTheyReference(t *testing.T) {
	raw, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		SecretGenerator []struct {
			Name      string   `json:"name"`
			Namespace string   `json:"namespace"`
			Literals  []string `json:"literals"`
		} `json:"secretGenerator"`
		GeneratorOptions struct {
			DisableNameSuffixHash bool `json:"disableNameSuffixHash"`
		} `json:"generatorOptions"`
	}
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	if len(k.SecretGenerator) > 0 && !k.GeneratorOptions.DisableNameSuffixHash {
		t.Error("generated Secrets get a hash suffix, so the names the Instances use would not exist")
	}
	created := map[string]bool{}
	for _, g := range k.SecretGenerator {
		for _, l := range g.Literals {
			key, _, _ := strings.Cut(l, "=")
			created[g.Namespace+"/"+g.Name+"/"+key] = true
		}
	}
	namespaces := map[string]bool{}
	var refs []string
	for _, s := range loadSamples(t) {
		md, _ := s.obj["metadata"].(map[string]any)
		if s.obj["kind"] == "Namespace" {
			namespaces[md["name"].(string)] = true
			continue
		}
		ns, _ := md["namespace"].(string)
		walkSecretRefs(s.obj, func(name, key string) { refs = append(refs, ns+"/"+name+"/"+key) })
	}
	sort.Strings(refs)
	if len(refs) == 0 {
		t.Fatal("no Secret references found: the walk is broken")
	}
	for _, r := range refs {
		if !created[r] {
			t.Errorf("a sample refers to Secret key %s, which the kustomization does not create", r)
		}
		if ns := strings.SplitN(r, "/", 2)[0]; !namespaces[ns] {
			t.Errorf("Secret %s is created in namespace %s, which the kustomization does not create first", r, ns)
		}
	}
}

// walkSecretRefs calls f for every *SecretRef in obj: its name and the
// keys it names (key, or username and password for SMTP credentials).
func walkSecretRefs(obj any, f func(name, key string)) {
	switch v := obj.(type) {
	case map[string]any:
		for k, child := range v {
			ref, ok := child.(map[string]any)
			if ok && strings.HasSuffix(k, "SecretRef") {
				name, _ := ref["name"].(string)
				if key, ok := ref["key"].(string); ok {
					f(name, key)
				} else if k == "credentialsSecretRef" {
					f(name, "username")
					f(name, "password")
				} else {
					f(name, "token")
				}
				continue
			}
			walkSecretRefs(child, f)
		}
	case []any:
		for _, child := range v {
			walkSecretRefs(child, f)
		}
	}
}
