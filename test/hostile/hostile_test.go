package hostile

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/feeds/hostile"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

const (
	victimNS = "victim"
	// refusedBudget is what the refused feeds, all at once, may add to the
	// process's heap above the baseline (issue 12: every hostile shape
	// under 64 MiB above it).
	refusedBudget = 64 << 20
	// acceptedBudget is the same for the accepted feeds, all at once,
	// among them the largest lists the caps let through (two of 20,000
	// entries with long comments): what they hold is bounded by the caps,
	// not by 64 MiB, and what bounds the process is the manager's 512 MiB
	// container limit, of which this is half. Heap in use counts garbage
	// not yet collected: the live heap is reported beside it.
	acceptedBudget = 256 << 20
	// settleWithin bounds each round's way through the operator.
	settleWithin = 5 * time.Minute
	// maxDelivered is the largest accepted feed whose entries are
	// delivered to a server. Mastodon takes one write call per entry: the
	// 20,000-entry feeds would take minutes (ten times that with -race)
	// measuring the fake admin API's throughput, not what the operator
	// makes of the feed, and delivering 5,000 entries is the Federation
	// suite's. Larger feeds are computed, checked and measured here, with
	// no server selected.
	maxDelivered = 1000
)

// victim is one hostile feed, the policy subscribing to it and the one
// server that policy selects.
type victim struct {
	feed  *hostile.Feed
	name  string // of the policy and the Instance
	fakes *remoteFakes
	index int // of its server among fakes
	// delivered: the feed has a server (see maxDelivered).
	delivered bool
}

// TestHostileFeeds: every feed of the catalogue, served over HTTP to the
// real operator (the refused ones at once, then the accepted ones at once),
// gets a condition that names what is wrong, puts nothing on the victim's
// server when refused (and exactly the clean entries its policy computed
// when accepted), keeps the process's heap within refusedBudget or
// acceptedBudget of the baseline, and does not stop the bystander
// community's changes from reaching its server meanwhile. Run with -v for
// each feed's conditions and the figures.
func TestHostileFeeds(t *testing.T) {
	feeds := hostile.Feeds()
	if len(feeds) < 25 {
		t.Fatalf("the catalogue has %d feeds, want at least 25", len(feeds))
	}
	if err := hostile.Prepare(feeds); err != nil { // compress the bombs before measuring
		t.Fatal(err)
	}
	feedServer := httptest.NewServer(hostile.Handler(feeds))
	t.Cleanup(feedServer.Close)

	e := start(t)
	e.community(victimNS, "victim.example", int32(len(feeds)+4))
	e.community(bystanderNS, "bystander.example", 4)
	by := newBystander(e)

	fakes := startFakes(t, len(feeds))
	victims := make([]*victim, len(feeds))
	for i, f := range feeds {
		v := &victim{feed: f, name: fmt.Sprintf("f%02d", i), fakes: fakes, index: i, delivered: f.Expect.Entries <= maxDelivered}
		victims[i] = v
		if !v.delivered {
			continue
		}
		domain := v.name + ".victim.example"
		if len(f.Expect.Protected) > 0 {
			domain = hostile.OwnDomain // the server the feed tries to cut off
		}
		e.connect(victimNS, v.name, domain, fakes.Servers[i], map[string]string{"hostile-feed": v.name})
	}
	for _, v := range victims {
		if !v.delivered {
			continue
		}
		e.eventually(time.Minute, "Instance "+v.name+" reconciled", func() error {
			inst, err := e.instance(victimNS, v.name)
			if err != nil {
				return err
			}
			if inst.Status.ObservedGeneration != inst.Generation || meta.IsStatusConditionTrue(inst.Status.Conditions, v1alpha1.ConditionStalled) {
				return fmt.Errorf("status %+v", inst.Status.Conditions)
			}
			return nil
		})
	}

	// Two rounds, each with every feed of its kind at once: the refused
	// feeds (the shapes built to exhaust memory or to smuggle bytes), then
	// the accepted ones, up to the largest lists the caps let through
	// (20,000 entries with 1,000-byte comments), delivered entry by entry.
	// The refused round is held to the 64 MiB, the accepted one to
	// acceptedBudget.
	by.run(5)
	for _, round := range []struct {
		name    string
		refused bool
		budget  int64
	}{{"refused", true, refusedBudget}, {"accepted", false, acceptedBudget}} {
		var these []*victim
		for _, v := range victims {
			if (v.feed.Expect.Err != "") == round.refused {
				these = append(these, v)
			}
		}
		heap := startHeapSampler()
		began := time.Now()
		for _, v := range these {
			e.create(&v1alpha1.FederationPolicy{
				ObjectMeta: metav1.ObjectMeta{Namespace: victimNS, Name: v.name},
				Spec: v1alpha1.FederationPolicySpec{
					InstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"hostile-feed": v.name}},
					Sources: []v1alpha1.PolicySource{{
						Name: "feed", URL: feedServer.URL + "/" + v.feed.Name, Format: v1alpha1.FeedFormat(v.feed.Format),
					}},
				},
			})
		}
		for _, v := range these {
			e.eventually(settleWithin-time.Since(began), "policy "+v.name+" ("+v.feed.Name+") computed and delivered", func() error {
				return settled(e, v)
			})
		}
		processed := time.Since(began)
		base, peak, peakAt, live := heap.Stop()
		above := int64(peak) - int64(base)
		t.Logf("%s round: %d feeds processed in %s; heap in use: baseline %.1f MiB, peak %.1f MiB (+%.1f MiB, %s in); peak live heap %.1f MiB",
			round.name, len(these), processed.Round(time.Millisecond), mib(base), mib(peak), float64(above)/(1<<20), peakAt.Round(time.Millisecond), mib(live))
		t.Logf("%s round: the bystander's changes meanwhile: %s", round.name, summary(by.between(began, time.Now())))
		if above > round.budget {
			t.Errorf("%s round: peak heap %.1f MiB above the baseline, over the %d MiB budget", round.name, float64(above)/(1<<20), round.budget>>20)
		}
	}
	latencies, byErr := by.Stop()

	for _, v := range victims {
		t.Run(v.feed.Name, func(t *testing.T) { check(t, e, v) })
	}

	if byErr != nil {
		t.Errorf("bystander: %v", byErr)
	}
	t.Logf("bystander, whole run: %s", summary(latencies))
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// summary says how many changes reached the bystander's server and how
// long they took.
func summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none made"
	}
	ds = slices.Sorted(slices.Values(ds))
	return fmt.Sprintf("%d reached its server, delay min %s, median %s, max %s", len(ds),
		ds[0].Round(time.Millisecond), ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
}

// settled: the policy fetched its feed and was computed at its generation,
// and its server holds what it computed.
func settled(e *env, v *victim) error {
	p, err := e.policy(victimNS, v.name)
	if err != nil {
		return err
	}
	ready := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionReady)
	switch {
	case len(p.Status.Sources) != 1 || p.Status.Sources[0].LastFetchTime == nil:
		return fmt.Errorf("feed not fetched yet: %+v", p.Status.Sources)
	case ready == nil || ready.ObservedGeneration != p.Generation || p.Status.PolicyHash == "":
		return fmt.Errorf("not computed: %v", p.Status.Conditions)
	}
	if !v.delivered {
		return nil
	}
	return e.synced(victimNS, v.name, p.Status.PolicyHash)
}

// check is one feed's outcome, as a sysadmin and the victim's server see it.
func check(t *testing.T, e *env, v *victim) {
	want := v.feed.Expect
	p, err := e.policy(victimNS, v.name)
	if err != nil {
		t.Fatal(err)
	}
	src := p.Status.Sources[0]
	healthy := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionSourcesHealthy)
	ready := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionReady)
	if healthy == nil || ready == nil {
		t.Fatalf("conditions %v", p.Status.Conditions)
	}
	writes, got, err := v.fakes.state(v.index)
	if err != nil {
		t.Fatal(err)
	}
	outcome := "accepted"
	if !v.delivered {
		outcome = "accepted, no server selected"
	}
	if want.Err != "" {
		outcome = "refused"
	}
	t.Logf("%s: %s; SourcesHealthy=%s %s %q; Ready=%s %s %q; %d entries on the server, %d write calls%s",
		v.feed.Name, outcome, healthy.Status, healthy.Reason, healthy.Message, ready.Status, ready.Reason, ready.Message,
		len(got), writes, saved(p))

	if want.Err != "" {
		msg := want.Err
		if want.Line > 0 {
			msg = hostile.Line(want.Line)
		}
		if !strings.Contains(src.Error, want.Err) || !strings.Contains(src.Error, msg) {
			t.Errorf("source error %q does not name %q and %q", src.Error, want.Err, msg)
		}
		if healthy.Status != metav1.ConditionFalse || healthy.Reason != "SourceErrors" ||
			!strings.Contains(healthy.Message, "feed: ") || !strings.Contains(healthy.Message, want.Err) {
			t.Errorf("SourcesHealthy %s %s %q: want False, SourceErrors, naming the source and %s", healthy.Status, healthy.Reason, healthy.Message, want.Err)
		}
		if p.Status.Entries != 0 || len(got) != 0 || writes != 0 {
			t.Errorf("a refused feed was applied: %d effective entries, %d on the server, %d write calls", p.Status.Entries, len(got), writes)
		}
		return
	}

	if src.Error != "" || healthy.Status != metav1.ConditionTrue {
		t.Errorf("refused: source error %q, SourcesHealthy %s %q", src.Error, healthy.Status, healthy.Message)
	}
	refused := append(slices.Clone(want.Rejected), want.Protected...)
	if int(p.Status.Entries+p.Status.Rejected) != want.Entries || int(p.Status.Rejected) < len(refused) {
		t.Errorf("%d effective and %d rejected entries, want %d read of which at least %d (%v) rejected",
			p.Status.Entries, p.Status.Rejected, want.Entries, len(refused), refused)
	}
	if !v.delivered {
		if p.Status.Instances != 0 || writes != 0 {
			t.Errorf("an undelivered feed selected %d Instances and made %d write calls", p.Status.Instances, writes)
		}
		return
	}
	if len(got) != int(p.Status.Entries) || writes > len(got) {
		t.Errorf("the server holds %d entries after %d write calls, want the %d effective entries, one call each", len(got), writes, p.Status.Entries)
	}
	for _, d := range want.Has {
		if _, ok := got[d]; !ok && !slices.Contains(refused, d) {
			t.Errorf("%s is not on the server", d)
		}
	}
	for _, d := range append(slices.Clone(want.HasNot), refused...) {
		if _, ok := got[d]; ok {
			t.Errorf("%s reached the server", d)
		}
	}
	for d, r := range got {
		if nd, _, err := moderation.NormalizeDomain(d); err != nil || nd != d {
			t.Errorf("the server holds %q, not a normalised domain (%v)", d, err)
		}
		if !clean(r.PublicComment) || len(r.PublicComment) > moderation.MaxCommentBytes {
			t.Errorf("the server holds a comment for %s of %d bytes that is not clean text: %q", d, len(r.PublicComment), r.PublicComment)
		}
	}
	if want.NoValidators && src.ETag != "" {
		t.Errorf("kept an ETag of %d bytes", len(src.ETag))
	}
}

// clean: valid UTF-8 without control characters other than newline and tab.
func clean(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return false
		}
	}
	return true
}

// saved notes a SourceStateSaved condition that is not True.
func saved(p *v1alpha1.FederationPolicy) string {
	c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionSourceStateSaved)
	if c == nil || c.Status == metav1.ConditionTrue {
		return ""
	}
	return fmt.Sprintf("; SourceStateSaved=%s %s %q", c.Status, c.Reason, c.Message)
}
