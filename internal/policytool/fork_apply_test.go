package policytool

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/testenv"
)

// applier applies fork manifests to a real API server with the CRDs of
// config/crd/bases, as `kubectl apply --server-side` would.
type applier struct {
	t *testing.T
	c client.Client
}

func startAPIServer(t *testing.T) *applier {
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg := testenv.Start(t, env)
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "forker"}}); err != nil {
		t.Fatal(err)
	}
	return &applier{t: t, c: c}
}

// apply writes f's manifest, applies those bytes and returns the policy
// as the API server stored it, or the API server's error.
func (a *applier) apply(f *Forked) (*v1alpha1.FederationPolicy, error) {
	a.t.Helper()
	var manifest bytes.Buffer
	if err := WriteForkManifest(&manifest, f); err != nil {
		a.t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(manifest.Bytes(), &u.Object); err != nil {
		a.t.Fatalf("the manifest is not YAML: %v", err)
	}
	u.SetNamespace("forker")
	ctx := context.Background()
	if err := a.c.Patch(ctx, u, client.Apply, client.FieldOwner("kubectl"), client.ForceOwnership); err != nil {
		return nil, err
	}
	stored := &v1alpha1.FederationPolicy{}
	if err := a.c.Get(ctx, client.ObjectKey{Namespace: "forker", Name: u.GetName()}, stored); err != nil {
		a.t.Fatal(err)
	}
	return stored, nil
}

func compute(t *testing.T, r *Resolver, p *v1alpha1.FederationPolicy) *moderation.Policy {
	t.Helper()
	c, err := r.Compute(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Policy
}

// TestForkAppliesAndComputesTheSame needs a real API server: each fork
// is applied, read back and computed as explain computes it.
func TestForkAppliesAndComputesTheSame(t *testing.T) {
	api := startAPIServer(t)
	t.Run("operator feed round trip", func(t *testing.T) { forkRoundTrip(t, api) })
	t.Run("real blocklist", func(t *testing.T) { forkRealList(t, api) })
	t.Run("at the size budget", func(t *testing.T) { forkAtBudget(t, api) })
	t.Run("what the API server refuses is left out", func(t *testing.T) { forkLeavesOut(t, api) })
}

// forkLeavesOut: a name the engine reads but the API server refuses
// would make the whole manifest fail; the fork leaves it out and applies.
func forkLeavesOut(t *testing.T, api *applier) {
	path := writeFile(t, "list.csv", "#domain,#severity\nab--cd.example,suspend\nfine.example,silence\n")
	f, err := Fork(context.Background(), path, ForkOptions{Now: forkTime, Name: "left-out"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.apply(f); err != nil || len(f.LeftOut) != 1 {
		t.Fatalf("left out %v; apply: %v", f.LeftOut, err)
	}
	f.Policy.Spec.Entries = append(f.Policy.Spec.Entries, v1alpha1.PolicyEntry{Domain: "ab--cd.example", Action: v1alpha1.ActionSuspend})
	if _, err := api.apply(f); err == nil || !strings.Contains(err.Error(), "reserved for punycode") {
		t.Fatalf("the API server took ab--cd.example, so leaving it out is needless: %v", err)
	}
}

// forkRoundTrip: a policy computed by the engine (own entries and a
// source), published by the operator's feed server, forked from its URL,
// applied and computed again holds the same effective entries, but for
// what the feed format cannot carry (allows; a comment past the bytes the
// parser keeps, whose rest is in the private comment). Before fork there
// was no way back from a feed to a manifest; a fork that dropped flags,
// obfuscation or comments fails the diff below.
func forkRoundTrip(t *testing.T, api *applier) {
	long := strings.Repeat("é", 600) // 600 characters the API takes, 1200 bytes
	peers := writeFile(t, "peers.csv", "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"+
		"spam.example,silence,false,true,\"Spam, lots of it\",false\n"+
		"media.example,noop,true,false,=cmd|' /C calc'!A0,false\n")
	origin := &v1alpha1.FederationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "hillside", Name: "shared"}}
	origin.Spec.Sources = []v1alpha1.PolicySource{{Name: "peers", URL: "https://peers.example/list.csv", Format: v1alpha1.FormatMastodonCSV}}
	yes := true
	origin.Spec.Entries = []v1alpha1.PolicyEntry{
		{Domain: "bad.example", Action: v1alpha1.ActionSuspend, PublicComment: "Harassment\nof members"},
		{Domain: "hidden.example", Action: v1alpha1.ActionSuspend, Obfuscate: &yes, PublicComment: "do not look"},
		{Domain: "quiet.example", Action: v1alpha1.ActionNoop, RejectReports: &yes},
		{Domain: "friend.example", Action: v1alpha1.ActionAllow},
		{Domain: "wordy.example", Action: v1alpha1.ActionSilence, PublicComment: long},
	}
	want := compute(t, &Resolver{Files: map[string]string{"peers": peers}}, origin)

	store := feeds.NewMemoryStore()
	published := feeds.Published{Namespace: "hillside", Name: "shared", Visibility: feeds.VisibilityPublic, Hash: want.Hash()}
	for _, e := range want.Entries {
		published.Entries = append(published.Entries, feeds.PublishedEntry{Entry: e.Entry})
	}
	if err := store.Put(published); err != nil {
		t.Fatal(err)
	}
	cluster := httptest.NewServer(feeds.NewServer(store, feeds.ClusterAudience, 0))
	defer cluster.Close()
	public := httptest.NewServer(feeds.NewServer(store, feeds.PublicAudience, 0))
	defer public.Close()

	f, err := Fork(context.Background(), cluster.URL+"/policies/hillside/shared.csv", ForkOptions{Fetcher: loopbackFetcher(), Now: forkTime})
	if err != nil {
		t.Fatal(err)
	}
	if f.Format != moderation.FormatMastodonCSV || f.FormatFrom != "Content-Type text/csv" || !strings.HasPrefix(f.Version, `ETag "`) {
		t.Errorf("read as %s from %s, version %q", f.Format, f.FormatFrom, f.Version)
	}
	stored, err := api.apply(f)
	if err != nil {
		t.Fatalf("the API server refused the fork: %v", err)
	}
	if stored.Name != "forked-shared" {
		t.Errorf("name %q", stored.Name)
	}
	got := compute(t, &Resolver{}, stored)
	var diff bytes.Buffer
	for _, c := range Diff(want, got) {
		switch {
		case c.Domain == "friend.example" && c.New == nil:
			// An allow is not in a blocklist feed.
		case c.Domain == "wordy.example" && c.Old != nil && c.New != nil && c.New.Action == moderation.Silence &&
			strings.HasPrefix(long, strings.TrimSuffix(c.New.PublicComment, "…")) && len(c.New.PublicComment) <= moderation.MaxCommentBytes:
			// Cut by the parser at 1000 bytes; the rest is kept privately.
		default:
			fmt.Fprintf(&diff, "%s: %+v → %+v\n", c.Domain, c.Old, c.New)
		}
	}
	if diff.Len() > 0 {
		t.Errorf("the fork computes differently from the policy it copies:\n%s", diff.String())
	}
	for _, e := range stored.Spec.Entries {
		if !strings.HasPrefix(e.PrivateComment, "Forked from "+cluster.URL+"/policies/hillside/shared.csv on 2026-12-02T16:00:00Z (ETag \"") {
			t.Errorf("%s: private comment %q", e.Domain, e.PrivateComment)
		}
		if e.Domain == "wordy.example" && !strings.Contains(e.PrivateComment, "it went on: é") {
			t.Errorf("the rest of the cut comment is lost: %q", e.PrivateComment)
		}
	}

	// The JSON feed: suspensions only, GoToSocial's, said so.
	f, err = Fork(context.Background(), cluster.URL+"/policies/hillside/shared.json", ForkOptions{Fetcher: loopbackFetcher(), Name: "from-json", Now: forkTime})
	if err != nil {
		t.Fatal(err)
	}
	if f.Format != moderation.FormatGoToSocialJSON || len(f.Policy.Spec.Entries) != 2 {
		t.Errorf("JSON feed read as %s, %d entries: %+v", f.Format, len(f.Policy.Spec.Entries), f.Policy.Spec.Entries)
	}
	if _, err := api.apply(f); err != nil {
		t.Errorf("the API server refused the JSON fork: %v", err)
	}
	// The public feed stars out the obfuscated domain: it cannot be
	// forked, and the report says so.
	f, err = Fork(context.Background(), public.URL+"/policies/hillside/shared.csv", ForkOptions{Fetcher: loopbackFetcher(), Name: "from-public", Now: forkTime})
	if err != nil {
		t.Fatal(err)
	}
	var report bytes.Buffer
	_ = WriteForkReport(&report, f)
	if len(f.Policy.Spec.Entries) != len(want.Entries)-2 || !strings.Contains(report.String(), "1 row left out because the domain is starred out") {
		t.Errorf("public feed: %d entries\n%s", len(f.Policy.Spec.Entries), report.String())
	}
}

// forkRealList: a list under shared/data/blocklists forked, applied and
// computed is what subscribing to the same file computes.
func forkRealList(t *testing.T, api *applier) {
	path := realList(t, "mastodon.social.csv")
	f, err := Fork(context.Background(), path, ForkOptions{Now: forkTime})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := api.apply(f)
	if err != nil {
		t.Fatalf("the API server refused the fork of %s: %v", path, err)
	}
	subscribed := &v1alpha1.FederationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "forker", Name: "subscribed"}}
	subscribed.Spec.Sources = []v1alpha1.PolicySource{{Name: "ms", URL: "https://mastodon.social/list.csv", Format: v1alpha1.FormatMastodonCSV}}
	want := compute(t, &Resolver{Files: map[string]string{"ms": path}}, subscribed)
	got := compute(t, &Resolver{}, stored)
	if changes := Diff(want, got); len(changes) > 0 || len(got.Entries) < 5 {
		t.Errorf("forked %d entries, subscribed %d; %d differ: %+v", len(got.Entries), len(want.Entries), len(changes), changes)
	}
}

// realList is a complete feed under shared/data/blocklists beside the
// checkout (a worktree sits one level deeper), else its excerpt in
// moderation's testdata.
func realList(t *testing.T, name string) string {
	for _, up := range []string{filepath.Join("..", "..", ".."), filepath.Join("..", "..", "..", "..")} {
		path := filepath.Join(up, "shared", "data", "blocklists", name)
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	t.Logf("shared/data/blocklists/%s is not beside this checkout: forking the excerpt in internal/moderation/testdata", name)
	return filepath.Join("..", "moderation", "testdata", name)
}

// forkAtBudget: the largest manifest a fork writes is stored by the API
// server; one past what etcd takes is refused there, which is why fork
// refuses it first.
func forkAtBudget(t *testing.T, api *applier) {
	list := func(comment int) string {
		var b strings.Builder
		b.WriteString("#domain,#severity,#public_comment\n")
		for i := range MaxForkEntries {
			fmt.Fprintf(&b, "host-%04d.example.org,suspend,%s\n", i, strings.Repeat("c", comment))
		}
		return b.String()
	}
	// The longest comment that fork still takes on 5000 entries.
	lo, hi := 0, 200
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if _, err := Fork(context.Background(), writeFile(t, "big.csv", list(mid)), ForkOptions{Now: forkTime}); err == nil {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	f, err := Fork(context.Background(), writeFile(t, "big.csv", list(lo)), ForkOptions{Now: forkTime, Name: "big"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.apply(f); err != nil {
		t.Fatalf("the API server refused a fork at the budget (%d-byte comments): %v", lo, err)
	}
	// What fork refuses, the API server refuses too when it is much past
	// the budget: the budget is not there for nothing.
	for i := range f.Policy.Spec.Entries {
		f.Policy.Spec.Entries[i].PublicComment = strings.Repeat("c", 250)
	}
	f.Policy.Name = "too-big"
	_, err = api.apply(f)
	if err == nil {
		t.Fatal("the API server stored a manifest of 5000 entries with 250-byte comments")
	}
	t.Logf("at the budget: 5000 entries with %d-byte comments stored; with 250-byte ones the API server says: %.200s", lo, err)
}
