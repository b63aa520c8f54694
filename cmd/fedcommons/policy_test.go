package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const localPolicy = `apiVersion: fedcommons.io/v1alpha1
kind: FederationPolicy
metadata: {name: shared, namespace: riverside}
spec:
  entries:
    - {domain: spam.example, action: suspend}
  sources:
    - name: upstream
      url: https://blocklists.example/list.txt
      format: plain
`

func TestPolicyCommand(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	list := filepath.Join(dir, "list.txt")
	if err := os.WriteFile(policy, []byte(localPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(list, []byte("listed.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Flags before, between and after the domains, as with kubectl.
	var out bytes.Buffer
	err := runPolicy([]string{"explain", "spam.example", "-f", policy, "listed.example", "--notes=false", "--source", "upstream=" + list, "other.example"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	want := "spam.example: suspend (local decision)\n" +
		"  local entry says suspend\n" +
		"  upstream (weight 1) says nothing\n\n" +
		"listed.example: suspend (weight 1 ≥ threshold 1, merge max)\n" +
		"  upstream (weight 1) says suspend\n\n" +
		"other.example: not blocked: no trusted source lists it\n" +
		"  upstream (weight 1) says nothing\n"
	if out.String() != want {
		t.Errorf("explain:\n%s\nwant:\n%s", out.String(), want)
	}

	out.Reset()
	if err := runPolicy([]string{"diff", "--offline", policy, policy}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "0 added, 0 removed, 0 changed; 1 entries before, 1 after\n") ||
		!strings.Contains(out.String(), "source upstream: url https://blocklists.example/list.txt not fetched") {
		t.Errorf("diff of a policy with itself, offline:\n%s", out.String())
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"show"}, "want explain, diff, fork, review, approve or reject"},
		{[]string{"explain", "-f", policy}, "at least one DOMAIN"},
		{[]string{"diff", policy}, "OLD-MANIFEST and NEW-MANIFEST"},
		{[]string{"explain", "-f", policy, "--source", "upstream", "a.example"}, `want NAME=FILE`},
		{[]string{"explain", "-f", policy, "--source-allow-cidrs", "10.0.0.0/33", "a.example"}, "--source-allow-cidrs"},
	} {
		err := runPolicy(tc.args, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

// TestPolicyFork: the manifest fork writes is one explain reads, with the
// list's decisions as the policy's own; bad flags are refused before
// anything is read.
func TestPolicyFork(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "theirs.csv")
	if err := os.WriteFile(list, []byte("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"+
		"loud.example,silence,false,true,Spam,false\nuk,suspend,false,false,,false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var manifest bytes.Buffer
	if err := runPolicy([]string{"fork", list, "--name", "ours", "--namespace", "riverside"}, &manifest); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(manifest.String(), "name: ours\n  namespace: riverside\n") || strings.Contains(manifest.String(), "domain: uk") {
		t.Errorf("manifest:\n%s", manifest.String())
	}
	forked := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(forked, manifest.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runPolicy([]string{"explain", "-f", forked, "--notes=false", "loud.example"}, &out); err != nil {
		t.Fatal(err)
	}
	// explain quotes the private comment: where the decision came from.
	if want := "loud.example: silence + reject reports (local decision)\n  local entry says silence + reject reports: Forked from " + list + " on "; !strings.HasPrefix(out.String(), want) {
		t.Errorf("explain on the fork:\n%s\nwant it to start with:\n%s", out.String(), want)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"fork"}, "one URL or FILE"},
		{[]string{"fork", list, "--format", "excel"}, `unknown format "excel"`},
		{[]string{"fork", list, "--name", "Ours!"}, `--name "Ours!"`},
		{[]string{"fork", forked}, "cannot tell the format"},
		{[]string{"fork", "ftp://example.org/list.csv"}, "only http and https"},
	} {
		err := runPolicy(tc.args, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}
