package devcluster

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

func TestIssueSelfSigned(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	names := []string{"toot.riverside.example", "riverside.example"}
	certPEM, keyPEM, cert, err := IssueSelfSigned(names, now, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// What an Ingress controller does with the Secret: load the pair.
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("the certificate and key do not form a pair: %v", err)
	}
	if _, ok := pair.PrivateKey.(*ecdsa.PrivateKey); !ok {
		t.Fatalf("key is %T", pair.PrivateKey)
	}
	block, _ := pem.Decode(certPEM)
	parsed, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !parsed.Equal(cert) {
		t.Fatal("returned certificate differs from the PEM")
	}
	if strings.Join(parsed.DNSNames, ",") != strings.Join(names, ",") || parsed.Subject.CommonName != names[0] {
		t.Fatalf("names %v, CN %q", parsed.DNSNames, parsed.Subject.CommonName)
	}
	for _, n := range names {
		if err := parsed.VerifyHostname(n); err != nil {
			t.Errorf("VerifyHostname(%s): %v", n, err)
		}
	}
	if err := parsed.VerifyHostname("other.example"); err == nil {
		t.Error("certificate also valid for other.example")
	}
	// Self-signed: it verifies against itself as the only root.
	roots := x509.NewCertPool()
	roots.AddCert(parsed)
	if _, err := parsed.Verify(x509.VerifyOptions{Roots: roots, DNSName: names[0], CurrentTime: now}); err != nil {
		t.Errorf("does not verify as self-signed: %v", err)
	}
	if !parsed.NotBefore.Before(now) || !parsed.NotAfter.Equal(now.Add(90*24*time.Hour)) {
		t.Errorf("validity %s – %s", parsed.NotBefore, parsed.NotAfter)
	}
	if parsed.IsCA || parsed.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("IsCA %v, ext key usage %v", parsed.IsCA, parsed.ExtKeyUsage)
	}
	if _, _, _, err := IssueSelfSigned(nil, now, time.Hour); err == nil {
		t.Error("no dnsNames: want an error")
	}
}

func readySnapshot() Snapshot {
	return Snapshot{
		Communities: []CommunityRow{{Name: "riverside", Namespace: "riverside", ReadyInstances: 2, Inst: 2, Ready: true, Reason: "ok"}},
		Instances: []InstanceRow{
			{Namespace: "riverside", Name: "toot", Software: "mastodon", Domain: "toot.riverside.example", Version: "4.5.2", Ready: true, Reason: "mastodon 4.5.2 serving https://toot.riverside.example"},
		},
		Policies: []PolicyRow{{Namespace: "riverside", Name: "shared-moderation", Entries: 7, Ready: true, Examples: []EntryRow{
			{Domain: "spam.example", Action: "suspend", Why: "our own decision"},
			{Domain: "bar***.*et", Action: "suspend", Why: "iftas-dni (1) + hillside (1) ≥ weight 2"},
		}}},
		Servers: []ServerRow{
			{Instance: "riverside/toot", Software: "Mastodon", URL: "http://127.0.0.1:1", Managed: 6, Expected: 6, Synced: true, HandMadeKept: true,
				Examples: []EntryRow{{Domain: "spam.example", Action: "suspend", Why: "fedcommons: shared-moderation: local decision"}}},
			{Instance: "hillside/town", Software: "Mastodon", URL: "http://127.0.0.1:2", Managed: 4, HandMade: 2, Expected: 4, Synced: true, HandMadeKept: true,
				Examples: []EntryRow{{Domain: "oldgrudge.example", Action: "silence", Why: "hand-made, left alone"}}},
			{Instance: "riverside/social", Software: "GoToSocial", URL: "http://127.0.0.1:3", Expected: -1, HandMadeKept: true, SyncOff: "sync off: no token"},
		},
	}
}

func TestRenderReady(t *testing.T) {
	s := readySnapshot()
	if p := s.Pending(); len(p) != 0 {
		t.Fatalf("pending: %v", p)
	}
	out := Render(s, 83*time.Second)
	for _, want := range []string{
		"fedcommons-dev — 1m23s — everything is Ready",
		"riverside  riverside  2/2 ready  True",
		"riverside/toot  mastodon  toot.riverside.example  4.5.2    True  mastodon 4.5.2 serving",
		"riverside/shared-moderation: 7 entries, Ready True",
		"spam.example  suspend  — our own decision",
		"bar***.*et    suspend  — iftas-dni (1) + hillside (1) ≥ weight 2",
		"riverside/toot — fake Mastodon at http://127.0.0.1:1: 6 managed by fedcommons, 0 hand-made (left alone)",
		"hillside/town — fake Mastodon at http://127.0.0.1:2: 4 managed by fedcommons, 2 hand-made (left alone)",
		"oldgrudge.example  silence  — hand-made, left alone",
		"riverside/social — fake GoToSocial at http://127.0.0.1:3: sync off: no token; 0 entries",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	// Lists cut to a few examples say how many they leave out (7 policy
	// entries, 6 and 4+2 on the servers, each with examples shown).
	if n := strings.Count(out, "      …and 5 more\n"); n != 3 {
		t.Errorf("%d lists say how many entries they leave out, want 3:\n%s", n, out)
	}
	// Without elapsed time the frame depends on the snapshot only: that is
	// how "print only on change" compares frames.
	if Render(s, 0) != Render(readySnapshot(), 0) || strings.Contains(Render(s, 0), "1m23s") {
		t.Error("Render(s, 0) is not a pure function of the snapshot")
	}
}

func TestPendingNamesWhatIsNotReady(t *testing.T) {
	s := readySnapshot()
	s.Instances[0].Ready, s.Instances[0].Reason = false, "DatabaseReady: bundled PostgreSQL toot-postgres: 0 of 1 ready"
	s.Servers[0].Managed = 2
	s.Servers[1].HandMadeKept = false
	s.Policies[0].Ready, s.Policies[0].Reason = false, ""
	got := strings.Join(s.Pending(), "\n")
	for _, want := range []string{
		"Instance riverside/toot: DatabaseReady: bundled PostgreSQL toot-postgres: 0 of 1 ready",
		"FederationPolicy riverside/shared-moderation: no status yet",
		"fake Mastodon server of riverside/toot: holds 2 entries from fedcommons, the operator reports 6",
		"fake Mastodon server of hillside/town: a hand-made entry is gone",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "riverside/social") {
		t.Errorf("a server that does not sync is not pending:\n%s", got)
	}
	out := Render(s, 0)
	if !strings.Contains(out, "fedcommons-dev — 4 things not Ready yet (WAITING FOR, below)") {
		t.Errorf("title:\n%s", out)
	}
	if !strings.Contains(out, "WAITING FOR\n  Instance riverside/toot: DatabaseReady") {
		t.Errorf("the frame does not list what is awaited:\n%s", out)
	}
	if (Snapshot{}).Ready() {
		t.Error("an empty snapshot (nothing created yet) counts as Ready")
	}
}

// Issue 15 finding 7: for ~38 s the table said "INSTANCES 0/0 waiting for
// the operator" while the demo was waiting for kube-controller-manager to
// fill a new ResourceQuota's status. The frame now says what is awaited.
func TestRenderSaysWhatTheDemoWaitsFor(t *testing.T) {
	s := Snapshot{Communities: readySnapshot().Communities[:1],
		Applying: "kube-controller-manager to fill the status of ResourceQuota riverside/fedcommons-quota: the API server admits no Instance riverside/toot until it has"}
	out := Render(s, 0)
	for _, want := range []string{"1 thing not Ready yet", "WAITING FOR\n  kube-controller-manager to fill the status of ResourceQuota riverside/fedcommons-quota"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "waiting for the operator") {
		t.Errorf("blames the operator:\n%s", out)
	}
	// Many pending lines stay a screen's worth.
	for i := range 20 {
		s.Instances = append(s.Instances, InstanceRow{Namespace: "n", Name: fmt.Sprint("i", i)})
	}
	if out := Render(s, 0); !strings.Contains(out, "  …and 13 more\n") {
		t.Errorf("21 pending lines are not cut to %d:\n%s", maxPendingShown, out)
	}
}

func TestParsePage(t *testing.T) {
	// The page as internal/feeds renders it, so that a change to its
	// markup fails here rather than empty the demo's table.
	store := feeds.NewMemoryStore()
	if err := store.Put(feeds.Published{Namespace: "riverside", Name: "shared", Visibility: feeds.VisibilityCluster, Hash: "sha256:1",
		Entries: []feeds.PublishedEntry{
			{Entry: moderation.Entry{Domain: "spam.example", Action: moderation.Suspend, RejectReports: true, PublicComment: "spam & scams"}, Summary: "our own decision"},
			{Entry: moderation.Entry{Domain: "bar.example", Action: moderation.Suspend, Obfuscate: true, PublicComment: "iftas:csam"}, Summary: "iftas-dni (1) + hillside (1) ≥ weight 2"},
		}}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	feeds.NewServer(store, feeds.ClusterAudience, 0).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/policies/riverside/shared.html", nil))
	page := rec.Body.String()
	got := parsePage(page)
	want := []EntryRow{
		{Domain: "spam.example", Action: "suspend, reject reports", Why: "our own decision"},
		{Domain: "bar.*****le", Action: "suspend", Why: "iftas-dni (1) + hillside (1) ≥ weight 2"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	ex := pickExamples(append(got, EntryRow{Domain: "noisy.example", Action: "silence", Why: "our own decision"}), 2)
	if len(ex) != 2 || ex[0].Why != "our own decision" || ex[1].Domain != "bar.*****le" {
		t.Errorf("examples should mix both kinds of provenance: %v", ex)
	}
}

func TestManifestsRender(t *testing.T) {
	objs, err := renderManifests(manifestData{
		SocialAPI: "http://127.0.0.1:1", TootAPI: "http://127.0.0.1:2", TownURL: "http://127.0.0.1:3",
		TownToken: "tok", BlocklistURL: "http://127.0.0.1:4/iftas-dni.csv",
	})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetKind()+" "+strings.TrimPrefix(o.GetNamespace()+"/", "/")+o.GetName())
		if o.GetLabels()[LabelPartOf] != DemoPartOf {
			t.Errorf("%s %s is not labelled %s=%s", o.GetKind(), o.GetName(), LabelPartOf, DemoPartOf)
		}
	}
	want := "Community riverside, Community hillside, Secret riverside/riverside-smtp, Secret hillside/town-admin-token, " +
		"PersistentVolumeClaim riverside/backups, Instance riverside/social, Instance riverside/toot, Instance hillside/town, " +
		"FederationPolicy hillside/shared-moderation, FederationPolicy riverside/shared-moderation"
	if got := strings.Join(kinds, ", "); got != want {
		t.Fatalf("objects, in order:\n got %s\nwant %s", got, want)
	}
	social := objs[5].Object["spec"].(map[string]any)["federation"].(map[string]any)
	if social["sync"] != false || social["apiURL"] != "http://127.0.0.1:1" {
		t.Errorf("GoToSocial federation without OAuth: %v", social)
	}
	backup := objs[5].Object["spec"].(map[string]any)["backup"].(map[string]any)
	if backup["destination"].(map[string]any)["pvc"].(map[string]any)["claimName"] != "backups" {
		t.Errorf("social's backups go to the demo's backups claim: %v", backup)
	}
	if !strings.Contains(string(iftasDNI), "baraag.net,suspend") {
		t.Error("embedded blocklist excerpt lost its rows")
	}
}

// TestFooterPrintsTheFeeds: the demo says where its published policies are
// (issue 15 finding 5: it never printed the page's URL).
func TestFooterPrintsTheFeeds(t *testing.T) {
	f := footer("/tmp/kubeconfig", "/tmp/log", "http://127.0.0.1:8091", false)
	for _, want := range []string{"http://127.0.0.1:8091/policies/", "http://127.0.0.1:8091/policies/riverside/shared-moderation", "Ctrl-C"} {
		if !strings.Contains(f, want) {
			t.Errorf("footer does not print %s:\n%s", want, f)
		}
	}
}

// The demo waits for its scheduled backup and then says where it went,
// and that the stand-in ran it on a placeholder database.
func TestBackupsInTheTable(t *testing.T) {
	s := readySnapshot()
	s.Backups = []BackupRow{{Instance: "social", Summary: "waiting for the first scheduled backup, due at 18:41 UTC"}}
	if s.Ready() || !strings.Contains(strings.Join(s.Pending(), "\n"), "Backup of social: waiting for the first scheduled backup") {
		t.Errorf("a backup not done yet is not awaited: %v", s.Pending())
	}
	s.Backups[0] = BackupRow{Instance: "social", Done: true, Summary: "backed up to pvc://backups/social/20261202T184111Z (18.0 KiB) at 2026-12-02 18:41:14 UTC; next at 2026-12-02 18:42 UTC"}
	if !s.Ready() {
		t.Errorf("pending: %v", s.Pending())
	}
	out := Render(s, 0)
	for _, want := range []string{"Backups: social backed up to pvc://backups/social/20261202T184111Z (18.0 KiB) at", "placeholder SQLite database"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
