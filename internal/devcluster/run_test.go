package devcluster

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/fedcommons/fedcommons/internal/bundle"
	"github.com/fedcommons/fedcommons/internal/testenv"
)

// TestRunExit is `make demo ARGS=--exit` in-process: a real local control
// plane, the operator, the stand-ins and the fake servers, until
// everything is Ready; then nothing may be left running.
func TestRunExit(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	out := &testenv.SyncBuffer{}
	var ready *Snapshot
	start := time.Now()
	err := Run(ctx, Options{Dir: dir, Exit: true, Timeout: 5 * time.Minute, Out: out, Ready: func(s Snapshot) { ready = &s }})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	t.Logf("Ready and stopped in %s", time.Since(start).Round(time.Second))
	if ready == nil {
		t.Fatalf("Run returned nil without a Ready snapshot\n%s", out)
	}
	servers := map[string]ServerRow{}
	for _, r := range ready.Servers {
		servers[r.Instance] = r
	}
	// Riverside's Mastodon: 3 local decisions that impose something
	// (spam, noisy, bigmedia; the allow is not a block) and the 3 domains
	// both iftas-dni and hillside list (baraag.net, bae.st, brighteon.social).
	if r := servers["riverside/toot"]; r.Managed != 6 || r.HandMade != 0 || !r.ServerDone() {
		t.Errorf("riverside/toot received %+v, want 6 managed entries", r)
	}
	// Hillside's external server: its 4 entries, and the 2 hand-made ones kept.
	if r := servers["hillside/town"]; r.Managed != 4 || r.HandMade != 2 || !r.HandMadeKept || !r.ServerDone() {
		t.Errorf("hillside/town holds %+v, want 4 managed and 2 hand-made entries", r)
	}
	// Riverside's GoToSocial: the same policy, in GoToSocial's terms,
	// pushed with a token the operator obtained by OAuth.
	if r := servers["riverside/social"]; r.SyncOff == "" && (r.Managed == 0 || !r.ServerDone()) {
		t.Errorf("riverside/social received %+v", r)
	}
	table := Render(*ready, 0)
	for _, want := range []string{"iftas-dni (1) + hillside (1) ≥ weight 2", "our own decision", "hand-made, left alone"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	// The review scene: a subscribed addition waits for two approvals,
	// each made as its own user, then reaches riverside's servers.
	for _, want := range []string{
		"riverside's policy needs 2 approvals for that: proposal shared-moderation-",
		"its servers do not have activitypub-troll.cf (none holds it yet)",
		"carol@riverside.example approves it",
		"alice@riverside.example approves it",
		"is Applied; riverside/social and riverside/toot now suspend activitypub-troll.cf",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the review scene did not say %q:\n%s", want, out)
		}
	}
	// The export scene: riverside in a bundle whose secrets the demo's
	// key opens, and nobody else's.
	checkExportScene(t, out.String())
	// One scheduled backup of riverside/social, really written by the
	// Job's script into the backups claim's directory, manifest last.
	if len(ready.Backups) != 1 || !ready.Backups[0].Done || !strings.Contains(ready.Backups[0].Summary, "backed up to pvc://backups/social/") {
		t.Errorf("backups in the Ready snapshot: %+v", ready.Backups)
	}
	manifests, _ := filepath.Glob(filepath.Join(dir, "volumes", "*", "social", "*", "manifest.json"))
	if len(manifests) == 0 {
		t.Errorf("no backup manifest under %s", filepath.Join(dir, "volumes"))
	}
	// Sealed by the agent's own code: the Secrets are in the backup,
	// encrypted, and listed in its manifest.
	for _, m := range manifests {
		b, _ := os.ReadFile(m)
		enc, _ := os.ReadFile(filepath.Join(filepath.Dir(m), "secrets.age"))
		if !strings.Contains(string(b), `"file": "secrets.age"`) || !bytes.HasPrefix(enc, []byte("age-encryption.org/v1\n")) {
			t.Errorf("backup %s holds no encrypted secrets.age listed in its manifest:\n%s", filepath.Dir(m), b)
		}
	}
	if !strings.Contains(out.String(), filepath.Join(dir, "kubeconfig")) {
		t.Errorf("the kubeconfig path is not printed:\n%s", out)
	}
	if left := processesMentioning(t, dir); len(left) > 0 {
		t.Fatalf("processes left behind:\n%s", strings.Join(left, "\n"))
	}
}

// processesMentioning lists running processes whose command line names
// dir: every control-plane component is started with its data directory.
func processesMentioning(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("cannot list processes: %v", err)
	}
	var out []string
	for _, e := range entries {
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte(dir)) {
			continue
		}
		out = append(out, e.Name()+": "+string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
	}
	return out
}

// checkExportScene reads back the bundle the demo says it wrote, with the
// key it says opens it.
func checkExportScene(t *testing.T, out string) {
	t.Helper()
	m := regexp.MustCompile(`Wrote (\S+/bundle\.tar\.gz) \((\d+) bytes\)`).FindStringSubmatch(out)
	k := regexp.MustCompile(`The private key that opens its secrets: (\S+)`).FindStringSubmatch(out)
	if m == nil || k == nil {
		t.Fatalf("the export scene did not say where the bundle and its key are:\n%s", out)
	}
	keyFile, err := os.Open(k[1])
	if err != nil {
		t.Fatal(err)
	}
	defer keyFile.Close()
	ids, err := age.ParseIdentities(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := bundle.Read(f, ids, bundle.DefaultLimits)
	if err != nil {
		t.Fatalf("the demo's bundle: %v", err)
	}
	if b.Manifest.Community != "riverside" || len(b.Instances) != 2 || len(b.Policies) != 1 || len(b.Secrets) < 5 {
		t.Errorf("the demo's bundle holds %s with %d Instances, %d policies, %d Secrets", b.Manifest.Community, len(b.Instances), len(b.Policies), len(b.Secrets))
	}
	for _, want := range []string{"fedcommons community export riverside -o ", "2 Instances:", "trust: policy shared-moderation subscribes to hillside/shared-moderation"} {
		if !strings.Contains(out, want) {
			t.Errorf("the export scene did not say %q", want)
		}
	}
}
