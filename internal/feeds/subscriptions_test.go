package feeds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// lists serves plain-text lists by path; a path mapped to "" answers 503.
type lists struct {
	mu      sync.Mutex
	byPath  map[string]string
	fetches map[string]int
}

func (l *lists) set(path, body string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byPath[path] = body
}

func (l *lists) count(path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fetches[path]
}

func serveLists(t *testing.T, byPath map[string]string) (*lists, string) {
	l := &lists{byPath: byPath, fetches: map[string]int{}}
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		body, ok := l.byPath[r.URL.Path]
		l.fetches[r.URL.Path]++
		l.mu.Unlock()
		switch {
		case !ok:
			http.NotFound(w, r)
		case body == "":
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		default:
			fmt.Fprint(w, body)
		}
	})
	return l, s.URL
}

func sub(name, url string) Subscription {
	return Subscription{Source: Source{Name: name, URL: url, Format: moderation.FormatPlain, Retraction: DefaultRetraction}, Interval: time.Hour}
}

func inForce(su SourceUpdate) []string {
	var out []string
	for _, e := range su.Effective {
		out = append(out, e.Domain)
	}
	return out
}

func TestSubscriptionsFetchWhenDueAndForgetRemovedSources(t *testing.T) {
	srv, base := serveLists(t, map[string]string{"/a.txt": "a.example\nb.example\n", "/b.txt": "c.example\n"})
	f := &Fetcher{Allow: loopback}
	s := NewSubscriptions()
	ctx := context.Background()
	now := time.Now()
	subs := []Subscription{sub("a", base+"/a.txt"), sub("b", base+"/b.txt")}

	u := s.Update(ctx, f, subs, now)
	if len(u.Sources) != 2 || u.Sources[0].Fetch == nil || u.Sources[1].Fetch == nil {
		t.Fatalf("first update must fetch both: %+v", u)
	}
	if got := inForce(u.Sources[0]); !slices.Equal(got, []string{"a.example", "b.example"}) {
		t.Fatalf("in force for a: %v", got)
	}
	if u.Next < 59*time.Minute || u.Next > time.Hour+time.Second {
		t.Fatalf("next pass in %s, want about the one-hour interval", u.Next)
	}

	u = s.Update(ctx, f, subs, now.Add(30*time.Minute))
	if u.Sources[0].Fetch != nil || srv.count("/a.txt") != 1 {
		t.Fatal("a source fetched again before its interval")
	}
	if got := inForce(u.Sources[0]); !slices.Equal(got, []string{"a.example", "b.example"}) {
		t.Fatalf("a source not due must still report what is in force: %v", got)
	}

	u = s.Update(ctx, f, subs[:1], now.Add(2*time.Hour))
	if u.Sources[0].Fetch == nil || srv.count("/a.txt") != 2 {
		t.Fatal("a source due was not fetched")
	}
	if !slices.Equal(u.Dropped, []string{"b"}) {
		t.Fatalf("dropped %v, want [b]", u.Dropped)
	}
	if s.tracker.Effective("b") != nil {
		t.Fatal("a removed source keeps its entries")
	}
}

// Issue 12 case 11: changing a source's URL dropped its last good copy, so
// an outage at the new address retracted everything it listed.
func TestSubscriptionsKeepTheLastGoodCopyUntilANewURLIsFetched(t *testing.T) {
	srv, base := serveLists(t, map[string]string{"/old.txt": "a.example\nb.example\nc.example\n", "/new.txt": ""})
	f := &Fetcher{Allow: loopback}
	s := NewSubscriptions()
	ctx := context.Background()
	now := time.Now()
	s.Update(ctx, f, []Subscription{sub("dni", base+"/old.txt")}, now)

	moved := []Subscription{sub("dni", base+"/new.txt")}
	u := s.Update(ctx, f, moved, now.Add(time.Minute))
	su := u.Sources[0]
	if su.Fetch == nil || srv.count("/new.txt") != 1 {
		t.Fatal("a changed URL must be fetched at once")
	}
	if got := inForce(su); !slices.Equal(got, []string{"a.example", "b.example", "c.example"}) {
		t.Fatalf("an outage at the new URL changed what is in force: %v", got)
	}
	if !su.Status.Replacing || !strings.Contains(su.Status.Error, "503") {
		t.Fatalf("status must say the previous copy is in force and why: %+v", su.Status)
	}
	if len(u.Dropped) != 0 {
		t.Fatalf("dropped %v", u.Dropped)
	}

	// The new list is another list: applied whole, not held as a shrink
	// of the old one, and the old entries go at once.
	srv.set("/new.txt", "z.example\n")
	u = s.Update(ctx, f, moved, now.Add(2*time.Hour))
	su = u.Sources[0]
	if got := inForce(su); !slices.Equal(got, []string{"z.example"}) {
		t.Fatalf("after the new URL answered: %v", got)
	}
	if su.Status.Replacing || su.Status.Error != "" || su.Status.Held != "" {
		t.Fatalf("status after the switch: %+v", su.Status)
	}
	if !slices.Equal(su.Fetch.Outcome.Retracted, []string{"a.example", "b.example", "c.example"}) {
		t.Fatalf("retracted %v", su.Fetch.Outcome.Retracted)
	}
}

func TestTrackerRebaseSendsNoValidatorsOfTheOtherList(t *testing.T) {
	tr := NewTracker()
	tr.Observe("s", ok(list("a.example"), `"old"`), DefaultRetraction)
	tr.Rebase("s")
	if v := tr.Validators("s"); v != (Validators{}) {
		t.Fatalf("validators of the previous list sent to the new one: %+v", v)
	}
	// A 304 cannot confirm a list never fetched.
	out := tr.Observe("s", Observation{NotModified: true}, DefaultRetraction)
	if out.Applied || !strings.Contains(out.Error, "no earlier copy") {
		t.Fatalf("304 after a rebase: %+v", out)
	}
	if got := effectiveDomains(tr, "s"); !slices.Equal(got, []string{"a.example"}) {
		t.Fatalf("in force after a refused 304: %v", got)
	}
	tr.Rebase("never-seen") // nothing to keep, nothing to do
	if slices.Contains(tr.Sources(), "never-seen") {
		t.Fatal("Rebase created a source")
	}
}

func TestTrackerDropsOversizedValidators(t *testing.T) {
	tr := NewTracker()
	huge := `"` + strings.Repeat("e", 4<<10) + `"`
	tr.Observe("s", Observation{Entries: list("a.example"), Validators: Validators{ETag: huge, LastModified: "Mon, 02 Jan 2006 15:04:05 GMT"}}, DefaultRetraction)
	if v := tr.Validators("s"); v.ETag != "" || v.LastModified == "" {
		t.Fatalf("validators kept: ETag %d bytes, Last-Modified %q", len(v.ETag), v.LastModified)
	}
}

// Issue 12 case 7: one source with an oversized comment made the saved
// state outgrow a ConfigMap, every save failed, and the policy was never
// computed again. The state is now bounded: what does not fit is left out
// and named, and the sources that fit are kept whole.
func TestSubscriptionsSaveStaysWithinBudget(t *testing.T) {
	s := NewSubscriptions()
	s.MaxSavedBytes = 64 << 10
	rules := DefaultRetraction
	// Random-looking text does not compress: 200 KiB stays about 200 KiB.
	var b strings.Builder
	for i := 0; b.Len() < 200<<10; i++ {
		fmt.Fprintf(&b, "%x", uint32(i)*2654435761)
	}
	hostile := list("a.example", "b.example")
	hostile[0].PublicComment = b.String()
	s.tracker.Observe("hostile", Observation{Time: t0, Entries: hostile, Validators: Validators{ETag: `"h"`}}, rules)
	s.tracker.Observe("small", Observation{Time: t0, Entries: domains(50, "s"), Validators: Validators{ETag: `"s"`}}, rules)
	s.fingerprints = map[string]string{"hostile": "https://h.example/l.txt|plain", "small": "https://s.example/l.txt|plain"}

	saved, changed, err := s.Save()
	if err != nil || !changed {
		t.Fatalf("Save: changed %v, %v", changed, err)
	}
	if saved.Size > s.MaxSavedBytes || len(saved.State)+len(saved.Fingerprints) != saved.Size {
		t.Fatalf("saved %d bytes, budget %d", saved.Size, s.MaxSavedBytes)
	}
	if !slices.Equal(saved.Unsaved, []string{"hostile"}) {
		t.Fatalf("unsaved %v, want [hostile]", saved.Unsaved)
	}
	s.MarkSaved(saved)
	if _, changed, _ := s.Save(); changed {
		t.Fatal("an unchanged state is saved again")
	}
	if got := effectiveDomains(s.tracker, "hostile"); len(got) != 2 {
		t.Fatalf("saving changed what is in force in memory: %v", got)
	}

	// After a restart: the small source is whole; the hostile one has
	// nothing in force, says so, and is due again soon.
	back := NewSubscriptions()
	if err := back.Load(saved.State, saved.Fingerprints); err != nil {
		t.Fatal(err)
	}
	if got := effectiveDomains(back.tracker, "small"); len(got) != 50 {
		t.Fatalf("small source after the restart: %d entries", len(got))
	}
	st := back.tracker.Status("hostile")
	if !st.Unsaved || len(back.tracker.Effective("hostile")) != 0 || back.tracker.Validators("hostile") != (Validators{}) {
		t.Fatalf("hostile source after the restart: %+v", st)
	}
	if _, changed, _ := back.Save(); changed {
		t.Fatal("a state just loaded is saved again")
	}
	h := Subscription{Source: Source{Name: "hostile"}, Interval: 6 * time.Hour}
	if w := back.wait(h, st, t0.Add(6*time.Minute)); w > 0 {
		t.Fatalf("an unsaved source waits %s more: its policy waits for it", w)
	}
	// A failed fetch leaves it unsaved; a clean one replaces it.
	back.tracker.Observe("hostile", Observation{Time: t0.Add(time.Hour), Err: errors.New("timeout")}, rules)
	if !back.tracker.Status("hostile").Unsaved {
		t.Fatal("a failed fetch cleared Unsaved")
	}
	back.tracker.Observe("hostile", Observation{Time: t0.Add(2 * time.Hour), Entries: list("b.example")}, rules)
	if st := back.tracker.Status("hostile"); st.Unsaved || st.Held != "" || st.Entries != 1 {
		t.Fatalf("after a clean fetch: %+v", st)
	}
}

func TestSubscriptionsLoadRefusesBrokenFingerprints(t *testing.T) {
	if err := NewSubscriptions().Load(nil, []byte("{")); err == nil {
		t.Fatal("accepted broken fingerprints")
	}
}

// Issue 12 case 9: a policy with 32 slow sources held the only policy
// worker for one fetch timeout per source, one after another. Now its
// sources are fetched concurrently under one deadline for the pass: the
// pass ends at the deadline, every source that did not answer keeps its
// last good copy, and the ones that answered are in force.
func TestSubscriptionsFetchConcurrentlyUnderOneDeadline(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var inflight, most int
	var mu sync.Mutex
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inflight++
		most = max(most, inflight)
		mu.Unlock()
		defer func() { mu.Lock(); inflight--; mu.Unlock() }()
		if strings.HasPrefix(r.URL.Path, "/fast") {
			fmt.Fprintf(w, "%s.example\n", strings.Trim(r.URL.Path, "/.txt"))
			return
		}
		select { // a black hole: answers only when the test ends
		case <-release:
		case <-r.Context().Done():
		}
	})
	f := &Fetcher{Allow: loopback}
	s := NewSubscriptions()
	s.fetchDeadline = 300 * time.Millisecond
	var subs []Subscription
	for i := range 30 {
		subs = append(subs, sub(fmt.Sprintf("slow%02d", i), fmt.Sprintf("%s/slow%02d.txt", srv.URL, i)))
	}
	subs = append(subs, sub("fast1", srv.URL+"/fast1.txt"), sub("fast2", srv.URL+"/fast2.txt"))

	start := time.Now()
	u := s.Update(context.Background(), f, subs, start)
	took := time.Since(start)
	if took > 2*time.Second {
		t.Fatalf("32 sources, 30 of them black holes, took %s: want about one deadline (300ms)", took)
	}
	mu.Lock()
	peak := most
	mu.Unlock()
	if peak > fetchConcurrency {
		t.Fatalf("%d fetches of one policy at once, want at most %d", peak, fetchConcurrency)
	}
	tried := 0
	for i, su := range u.Sources {
		if su.Name != subs[i].Name {
			t.Fatalf("source %d is %s, want %s: results out of order", i, su.Name, subs[i].Name)
		}
		if su.Fetch == nil {
			continue // not reached before the deadline: not a failure
		}
		tried++
		if su.Status.Error == "" {
			t.Fatalf("%s, cut off by the deadline, reports no error", su.Name)
		}
	}
	if tried != fetchConcurrency {
		t.Fatalf("%d sources tried in the first pass, want the first %d (one round of black holes)", tried, fetchConcurrency)
	}
	// Sources that failed go last, untried ones first: every pass tries
	// new sources, so the working ones are in force within
	// 32/fetchConcurrency passes, each bounded by the deadline.
	passes := 1
	start2 := time.Now()
	for ; passes <= 32/fetchConcurrency && len(inForce(u.Sources[30])) == 0; passes++ {
		u = s.Update(context.Background(), f, subs, start.Add(time.Duration(passes)*time.Minute))
	}
	if got := inForce(u.Sources[30]); !slices.Equal(got, []string{"fast1.example"}) {
		t.Fatalf("after %d passes fast1 in force: %v (error %q)", passes, got, u.Sources[30].Status.Error)
	}
	t.Logf("32 sources (30 black holes), deadline 300ms: first pass %s; the working ones in force after %d passes (%s); at most %d fetches at once",
		took.Round(time.Millisecond), passes, time.Since(start2).Round(time.Millisecond), peak)
}
