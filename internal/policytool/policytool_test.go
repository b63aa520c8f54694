package policytool

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// feedServer serves plain-text lists by path and counts the requests.
func feedServer(t *testing.T, lists map[string]string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, ok := lists[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func loopbackFetcher() *feeds.Fetcher {
	return &feeds.Fetcher{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
}

func write(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// policyYAML is a policy with two url sources (each weight 1), a
// policyRef, a threshold of 2 and local entries.
func policyYAML(url, threshold string) string {
	return `apiVersion: fedcommons.io/v1alpha1
kind: FederationPolicy
metadata:
  name: shared
  namespace: riverside
spec:
  entries:
    - domain: spam.example
      action: suspend
      privateComment: ticket 41
  sources:
    - name: list-a
      url: ` + url + `/a.txt
      format: plain
    - name: list-b
      url: ` + url + `/b.txt
      format: plain
    - name: hillside
      policyRef: {namespace: hillside, name: published}
      weight: 2
  consensus:
    threshold:
      weight: ` + threshold + `
`
}

const instanceYAML = `---
apiVersion: fedcommons.io/v1alpha1
kind: Instance
metadata: {name: social, namespace: riverside}
spec:
  software: gotosocial
  domain: social.riverside.example
  version: 0.20.1
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated}
data: {a: b}
`

func TestExplainComputesAsTheOperator(t *testing.T) {
	srv, _ := feedServer(t, map[string]string{
		"/a.txt": "both.example\nonly-a.example\nriverside.example\n",
		"/b.txt": "both.example\n",
	})
	path := write(t, "policy.yaml", policyYAML(srv.URL, "2")+instanceYAML)
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Policies) != 1 || len(m.Instances) != 1 {
		t.Fatalf("loaded %d policies and %d instances, want 1 and 1 (the ConfigMap skipped)", len(m.Policies), len(m.Instances))
	}
	p, err := m.Policy("")
	if err != nil {
		t.Fatal(err)
	}
	r := &Resolver{Fetcher: loopbackFetcher()}
	c, err := r.Compute(context.Background(), p, m.Instances)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteExplain(&out, c, []string{"both.example", "only-a.example", "riverside.example", "spam.example"}); err != nil {
		t.Fatal(err)
	}
	if err := WriteNotes(&out, c); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"both.example: suspend (weight 2 ≥ threshold 2, merge max)",
		"only-a.example: not blocked: weight 1 of 2 needed",
		// The Instance in the manifests is protected, parents included.
		"riverside.example: not blocked: parent of our instance social.riverside.example",
		"spam.example: suspend (local decision)",
		"local entry says suspend: ticket 41",
		"source list-a: 3 entries fetched from " + srv.URL + "/a.txt",
		"source hillside: policyRef hillside/published is computed in the cluster: not resolved (give its published feed with --source hillside=FILE)",
		"1 entries refused:",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("explain output lacks %q:\n%s", want, got)
		}
	}
}

func TestPolicyRefFromAFile(t *testing.T) {
	srv, _ := feedServer(t, map[string]string{"/a.txt": "", "/b.txt": ""})
	m, err := Load(write(t, "p.yaml", policyYAML(srv.URL, "2")))
	if err != nil {
		t.Fatal(err)
	}
	published := write(t, "published.csv", "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\nhill.example,silence,false,false,flood,false\n")
	r := &Resolver{Fetcher: loopbackFetcher(), Files: map[string]string{"hillside": published}}
	c, err := r.Compute(context.Background(), &m.Policies[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Policy.Lookup("hill.example")
	if e == nil || e.Action != moderation.Silence || e.PublicComment != "flood" {
		t.Fatalf("hill.example from the published feed (weight 2): got %+v", e)
	}
	if !strings.Contains(strings.Join(c.Notes, "\n"), "hillside: 1 entries from "+published+" (mastodon-csv)") {
		t.Errorf("notes: %v", c.Notes)
	}
}

func TestFetchFailureStops(t *testing.T) {
	srv, _ := feedServer(t, map[string]string{"/a.txt": "a.example\n"}) // b.txt: 404
	m, err := Load(write(t, "p.yaml", policyYAML(srv.URL, "1")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&Resolver{Fetcher: loopbackFetcher()}).Compute(context.Background(), &m.Policies[0], nil)
	if err == nil || !strings.Contains(err.Error(), "source list-b") || !strings.Contains(err.Error(), "--source list-b=FILE") {
		t.Fatalf("want the failing source named with the way out, got %v", err)
	}

	// Without an allowance, the operator's address guard refuses loopback.
	_, err = (&Resolver{Fetcher: &feeds.Fetcher{}}).Compute(context.Background(), &m.Policies[0], nil)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("want the address guard's refusal, got %v", err)
	}
}

func TestDiff(t *testing.T) {
	srv, hits := feedServer(t, map[string]string{
		"/a.txt": "both.example\nonly-a.example\n",
		"/b.txt": "both.example\nonly-b.example\n",
	})
	oldPolicy := policyYAML(srv.URL, "2")
	newPolicy := strings.Replace(policyYAML(srv.URL, "1"), "      action: suspend\n      privateComment: ticket 41",
		"      action: silence\n      privateComment: ticket 42", 1)
	oldM, err := Load(write(t, "old.yaml", oldPolicy))
	if err != nil {
		t.Fatal(err)
	}
	newM, err := Load(write(t, "new.yaml", newPolicy))
	if err != nil {
		t.Fatal(err)
	}
	r := &Resolver{Fetcher: loopbackFetcher()}
	oldC, err := r.Compute(context.Background(), &oldM.Policies[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	newC, err := r.Compute(context.Background(), &newM.Policies[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("%d fetches for two lists shared by both versions, want 2", n)
	}
	var out bytes.Buffer
	if err := WriteDiff(&out, oldC.Policy, newC.Policy); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"+ only-a.example: suspend (weight 1 ≥ threshold 1, merge max: list-a suspend)\n" +
		"+ only-b.example: suspend (weight 1 ≥ threshold 1, merge max: list-b suspend)\n" +
		"~ spam.example: suspend → silence (local decision: ticket 42)\n" +
		"2 added, 0 removed, 1 changed; 2 entries before, 4 after\n"
	if out.String() != want {
		t.Errorf("diff:\n%s\nwant:\n%s", out.String(), want)
	}

	// The same policy, and one whose only change is a private comment,
	// differ in nothing a server is sent.
	if changes := Diff(oldC.Policy, oldC.Policy); len(changes) != 0 {
		t.Errorf("a policy against itself: %+v", changes)
	}
	reworded, err := Load(write(t, "reworded.yaml", strings.Replace(oldPolicy, "ticket 41", "ticket 41, see minutes", 1)))
	if err != nil {
		t.Fatal(err)
	}
	rewordedC, err := r.Compute(context.Background(), &reworded.Policies[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if changes := Diff(oldC.Policy, rewordedC.Policy); len(changes) != 0 {
		t.Errorf("a reworded private comment counted as a change: %+v", changes)
	}
}

func TestLoadErrors(t *testing.T) {
	typo := write(t, "typo.yaml", "apiVersion: fedcommons.io/v1alpha1\nkind: FederationPolicy\nmetadata: {name: p}\nspec:\n  entires: []\n")
	if _, err := Load(typo); err == nil || !strings.Contains(err.Error(), "typo.yaml: document 1: FederationPolicy") || !strings.Contains(err.Error(), "entires") {
		t.Errorf("unknown field: got %v", err)
	}
	two := write(t, "two.yaml", "apiVersion: fedcommons.io/v1alpha1\nkind: FederationPolicy\nmetadata: {name: a}\n---\napiVersion: fedcommons.io/v1alpha1\nkind: FederationPolicy\nmetadata: {name: b}\n")
	m, err := Load(two)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Policy(""); err == nil || !strings.Contains(err.Error(), "several FederationPolicies (a, b): choose one with --policy") {
		t.Errorf("ambiguous: got %v", err)
	}
	if p, err := m.Policy("b"); err != nil || p.Name != "b" {
		t.Errorf("by name: %v %v", p, err)
	}
	if _, err := m.Policy("c"); err == nil || !strings.Contains(err.Error(), `no FederationPolicy "c" in the manifests (there are: a, b)`) {
		t.Errorf("missing: got %v", err)
	}
	none, err := Load(write(t, "none.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := none.Policy(""); err == nil || !strings.Contains(err.Error(), "no FederationPolicy") {
		t.Errorf("none: got %v", err)
	}
	if _, err := Load(write(t, "bad.yaml", "kind: [unclosed\n")); err == nil || !strings.Contains(err.Error(), "bad.yaml: document 1") {
		t.Errorf("not YAML: got %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing file loaded")
	}
}
