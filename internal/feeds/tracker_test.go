package feeds

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

func domains(n int, prefix string) []moderation.Entry {
	out := make([]moderation.Entry, n)
	for i := range out {
		out[i] = moderation.Entry{Domain: fmt.Sprintf("%s%03d.example", prefix, i), Action: moderation.Suspend}
	}
	return out
}

func list(ds ...string) []moderation.Entry {
	out := make([]moderation.Entry, len(ds))
	for i, d := range ds {
		out[i] = moderation.Entry{Domain: d, Action: moderation.Suspend}
	}
	return out
}

func effectiveDomains(t *Tracker, src string) []string {
	var out []string
	for _, e := range t.Effective(src) {
		d := e.Domain
		if e.RetractionPending() {
			d += " (" + e.Note() + ")"
		}
		out = append(out, d)
	}
	return out
}

var t0 = time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)

// step is one observation and what must follow from it.
type step struct {
	obs       Observation
	applied   bool
	held      string // substring; "" means not held
	errSub    string // substring of Outcome.Error; "" means none
	retracted []string
	effective []string // nil means "do not check"
}

func ok(entries []moderation.Entry, etag string) Observation {
	return Observation{Entries: entries, Validators: Validators{ETag: etag}}
}

func TestTrackerRules(t *testing.T) {
	outage := Observation{Err: errors.New("cannot fetch https://example.org/dni.csv: connection refused")}
	notModified := Observation{NotModified: true}
	abc := list("a.example", "b.example", "c.example")

	cases := []struct {
		name  string
		rules Retraction
		steps []step
	}{
		{
			name:  "outage keeps the last good copy and never counts",
			rules: Retraction{MinCleanFetches: 2, MaxShrinkPercent: 50},
			steps: []step{
				{obs: ok(abc, `"1"`), applied: true, effective: []string{"a.example", "b.example", "c.example"}},
				{obs: outage, errSub: "connection refused", effective: []string{"a.example", "b.example", "c.example"}},
				{obs: outage, errSub: "connection refused", effective: []string{"a.example", "b.example", "c.example"}},
				{obs: outage, errSub: "connection refused", effective: []string{"a.example", "b.example", "c.example"}},
			},
		},
		{
			name:  "outage before any good copy leaves nothing in force",
			rules: DefaultRetraction,
			steps: []step{
				{obs: outage, errSub: "connection refused", effective: []string{}},
			},
		},
		{
			name:  "304 is a clean fetch of the last good copy",
			rules: Retraction{MinCleanFetches: 3, MaxShrinkPercent: 50},
			steps: []step{
				{obs: ok(abc, `"1"`), applied: true},
				{obs: ok(list("a.example", "b.example"), `"2"`), applied: true, effective: []string{"a.example", "b.example", "c.example (retraction pending 1/3)"}},
				{obs: notModified, applied: true, effective: []string{"a.example", "b.example", "c.example (retraction pending 2/3)"}},
				{obs: notModified, applied: true, retracted: []string{"c.example"}, effective: []string{"a.example", "b.example"}},
			},
		},
		{
			name:  "304 without an earlier copy is an error",
			rules: DefaultRetraction,
			steps: []step{{obs: notModified, errSub: "no earlier copy"}},
		},
		{
			name:  "shrink beyond the limit is held",
			rules: Retraction{MinCleanFetches: 2, MaxShrinkPercent: 20},
			steps: []step{
				{obs: ok(domains(120, "d"), `"1"`), applied: true},
				{obs: ok(domains(12, "d"), `"2"`), held: "held: 120 → 12 entries, shrank 90% > 20%"},
				{obs: ok(nil, `"3"`), held: "held: 120 → 0 entries, shrank 100% > 20%"},
			},
		},
		{
			name:  "shrink exactly at the limit applies, one more is held",
			rules: Retraction{MinCleanFetches: 1, MaxShrinkPercent: 20},
			steps: []step{
				{obs: ok(domains(100, "d"), `"1"`), applied: true},
				{obs: ok(domains(79, "d"), `"2"`), held: "shrank 21% > 20%"},
				{obs: ok(domains(80, "d"), `"3"`), applied: true, retracted: []string{
					"d080.example", "d081.example", "d082.example", "d083.example", "d084.example",
					"d085.example", "d086.example", "d087.example", "d088.example", "d089.example",
					"d090.example", "d091.example", "d092.example", "d093.example", "d094.example",
					"d095.example", "d096.example", "d097.example", "d098.example", "d099.example"}},
				{obs: ok(domains(60, "d"), `"4"`), held: "held: 80 → 60 entries, shrank 25% > 20%"},
			},
		},
		{
			name:  "maxShrinkPercent 0 holds any shrink, 100 none",
			rules: Retraction{MinCleanFetches: 1, MaxShrinkPercent: 0},
			steps: []step{
				{obs: ok(abc, `"1"`), applied: true},
				{obs: ok(list("a.example", "b.example"), `"2"`), held: "shrank 33.3% > 0%"},
				{obs: ok(list("a.example", "b.example", "c.example", "d.example"), `"3"`), applied: true},
			},
		},
		{
			name:  "retraction after N clean fetches",
			rules: Retraction{MinCleanFetches: 2, MaxShrinkPercent: 50},
			steps: []step{
				{obs: ok(abc, `"1"`), applied: true},
				{obs: ok(list("a.example", "b.example"), `"2"`), applied: true, effective: []string{"a.example", "b.example", "c.example (retraction pending 1/2)"}},
				{obs: outage, errSub: "refused", effective: []string{"a.example", "b.example", "c.example (retraction pending 1/2)"}},
				{obs: ok(list("a.example", "b.example"), `"2"`), applied: true, retracted: []string{"c.example"}, effective: []string{"a.example", "b.example"}},
			},
		},
		{
			name:  "minCleanFetches 1 retracts on the first clean fetch",
			rules: Retraction{MinCleanFetches: 1, MaxShrinkPercent: 50},
			steps: []step{
				{obs: ok(abc, `"1"`), applied: true},
				{obs: ok(list("a.example", "b.example"), `"2"`), applied: true, retracted: []string{"c.example"}, effective: []string{"a.example", "b.example"}},
			},
		},
		{
			name:  "re-added domain resets the counter",
			rules: Retraction{MinCleanFetches: 3, MaxShrinkPercent: 50},
			steps: []step{
				{obs: ok(abc, `"1"`), applied: true},
				{obs: ok(list("a.example", "b.example"), `"2"`), applied: true, effective: []string{"a.example", "b.example", "c.example (retraction pending 1/3)"}},
				{obs: ok(list("a.example", "b.example"), `"2"`), applied: true, effective: []string{"a.example", "b.example", "c.example (retraction pending 2/3)"}},
				{obs: ok(abc, `"3"`), applied: true, effective: []string{"a.example", "b.example", "c.example"}},
				{obs: ok(list("a.example", "b.example"), `"4"`), applied: true, effective: []string{"a.example", "b.example", "c.example (retraction pending 1/3)"}},
				{obs: ok(list("a.example", "b.example"), `"4"`), applied: true, effective: []string{"a.example", "b.example", "c.example (retraction pending 2/3)"}},
				{obs: ok(list("a.example", "b.example"), `"4"`), applied: true, retracted: []string{"c.example"}, effective: []string{"a.example", "b.example"}},
			},
		},
		{
			name:  "held fetch does not count towards retractions",
			rules: Retraction{MinCleanFetches: 2, MaxShrinkPercent: 40},
			steps: []step{
				{obs: ok(list("a.example", "b.example", "c.example", "d.example", "e.example"), `"1"`), applied: true},
				{obs: ok(list("a.example", "b.example", "c.example", "d.example"), `"2"`), applied: true, effective: []string{"a.example", "b.example", "c.example", "d.example", "e.example (retraction pending 1/2)"}},
				{obs: ok(list("a.example"), `"3"`), held: "4 → 1 entries, shrank 75% > 40%", effective: []string{"a.example", "b.example", "c.example", "d.example", "e.example (retraction pending 1/2)"}},
				{obs: ok(list("a.example", "b.example", "c.example", "d.example"), `"2"`), applied: true, retracted: []string{"e.example"}},
			},
		},
		{
			name:  "a changed action applies at once",
			rules: DefaultRetraction,
			steps: []step{
				{obs: ok(abc, `"1"`), applied: true},
				{obs: ok([]moderation.Entry{{Domain: "a.example", Action: moderation.Silence}, {Domain: "b.example", Action: moderation.Suspend}, {Domain: "c.example", Action: moderation.Noop}}, `"2"`), applied: true},
			},
		},
		{
			name:  "duplicates count once",
			rules: Retraction{MinCleanFetches: 1, MaxShrinkPercent: 10},
			steps: []step{
				{obs: ok(list("a.example", "a.example", "b.example"), `"1"`), applied: true, effective: []string{"a.example", "b.example"}},
				{obs: ok(list("a.example", "b.example"), `"2"`), applied: true, effective: []string{"a.example", "b.example"}},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker()
			for i, st := range tc.steps {
				st.obs.Time = t0.Add(time.Duration(i) * time.Hour)
				out := tr.Observe("src", st.obs, tc.rules)
				if out.Applied != st.applied {
					t.Fatalf("step %d: applied %v, want %v (%+v)", i, out.Applied, st.applied, out)
				}
				if (st.held == "") != (out.Held == "") || !strings.Contains(out.Held, st.held) {
					t.Fatalf("step %d: held %q, want %q", i, out.Held, st.held)
				}
				if (st.errSub == "") != (out.Error == "") || !strings.Contains(out.Error, st.errSub) {
					t.Fatalf("step %d: error %q, want %q", i, out.Error, st.errSub)
				}
				if !slices.Equal(out.Retracted, st.retracted) {
					t.Fatalf("step %d: retracted %v, want %v", i, out.Retracted, st.retracted)
				}
				if st.effective != nil {
					got := effectiveDomains(tr, "src")
					if len(got) != 0 || len(st.effective) != 0 {
						if !slices.Equal(got, st.effective) {
							t.Fatalf("step %d: effective %v, want %v", i, got, st.effective)
						}
					}
				}
				// Status mirrors the outcome.
				s := tr.Status("src")
				if s.Held != out.Held || s.Error != out.Error {
					t.Fatalf("step %d: status %+v does not mirror outcome %+v", i, s, out)
				}
				// And the state survives a save and restore at every step.
				roundTrip(t, tr)
			}
		})
	}
}

func roundTrip(t *testing.T, tr *Tracker) {
	t.Helper()
	data, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var back Tracker
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("%v in %s", err, data)
	}
	for _, src := range tr.Sources() {
		if !reflect.DeepEqual(tr.Effective(src), back.Effective(src)) || tr.Status(src) != back.Status(src) || tr.Validators(src) != back.Validators(src) {
			t.Fatalf("state of %s changed in a round trip through %s", src, data)
		}
	}
}

func TestTrackerStatusAndValidators(t *testing.T) {
	tr := NewTracker()
	rules := Retraction{MinCleanFetches: 2, MaxShrinkPercent: 20}
	tr.Observe("iftas", Observation{Time: t0, Entries: domains(10, "x"), Validators: Validators{ETag: `"v1"`, LastModified: "Mon, 02 Jan 2006 15:04:05 GMT"}}, rules)
	// A held fetch must not move the validators: the next fetch must get
	// the whole body again and be judged again, not a 304 for a copy we
	// never applied.
	tr.Observe("iftas", Observation{Time: t0.Add(time.Hour), Entries: domains(1, "x"), Validators: Validators{ETag: `"v2"`}}, rules)
	if v := tr.Validators("iftas"); v.ETag != `"v1"` {
		t.Fatalf("held fetch moved the validators to %+v", v)
	}
	st := tr.Status("iftas")
	want := SourceStatus{Name: "iftas", LastFetchTime: t0.Add(time.Hour), LastSuccessTime: t0, ETag: `"v1"`, Entries: 10, Held: "held: 10 → 1 entries, shrank 90% > 20%"}
	if st != want {
		t.Fatalf("status\n got %+v\nwant %+v", st, want)
	}
	// A 304 keeps validators the server did not repeat and clears the hold.
	tr.Observe("iftas", Observation{Time: t0.Add(2 * time.Hour), NotModified: true}, rules)
	if v := tr.Validators("iftas"); v.ETag != `"v1"` || v.LastModified == "" {
		t.Fatalf("validators after 304: %+v", v)
	}
	if st := tr.Status("iftas"); st.Held != "" || st.LastSuccessTime != t0.Add(2*time.Hour) {
		t.Fatalf("status after 304: %+v", st)
	}
	if v := tr.Validators("never-fetched"); v != (Validators{}) {
		t.Fatalf("validators of an unknown source: %+v", v)
	}
}

func TestTrackerBounds(t *testing.T) {
	tr := &Tracker{MaxEntries: 5}
	out := tr.Observe("big", Observation{Time: t0, Entries: domains(6, "b")}, DefaultRetraction)
	if out.Applied || !strings.Contains(out.Error, "lists 6 entries, above the 5 kept per source") {
		t.Fatalf("oversized source: %+v", out)
	}
	long := errors.New(strings.Repeat("é", 1000))
	out = tr.Observe("big", Observation{Time: t0, Err: long}, DefaultRetraction)
	if len(out.Error) > maxMessage+len("…") || !strings.HasSuffix(out.Error, "…") {
		t.Fatalf("error not clipped: %d bytes", len(out.Error))
	}
	if !strings.HasPrefix(out.Error, "é") || strings.ContainsRune(out.Error, '\uFFFD') {
		t.Fatal("clip cut a rune in half")
	}
	tr.Observe("keep", ok(list("a.example"), ""), DefaultRetraction)
	tr.Retain("keep")
	if got := tr.Sources(); !slices.Equal(got, []string{"keep"}) {
		t.Fatalf("Retain left %v", got)
	}
}

func TestTrackerSerialisation(t *testing.T) {
	tr := NewTracker()
	rules := Retraction{MinCleanFetches: 3, MaxShrinkPercent: 50}
	entries := []moderation.Entry{
		{Domain: "a.example", Action: moderation.Silence, RejectMedia: true, RejectReports: true, PublicComment: "spam, \"quoted\""},
		{Domain: "b.example", Action: moderation.Suspend, Obfuscate: true, PrivateComment: "ticket 41"},
		{Domain: "c.example", Action: moderation.RejectMedia},
	}
	tr.Observe("s", Observation{Time: t0, Entries: entries, Validators: Validators{ETag: `"e"`, LastModified: "x"}}, rules)
	tr.Observe("s", Observation{Time: t0.Add(time.Hour), Entries: entries[:2]}, rules)
	data, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	// Actions are saved by name, so reordering the Go constants cannot
	// change a saved decision.
	if !strings.Contains(string(data), `"a":"reject-media"`) || !strings.Contains(string(data), `{"d":"b.example","o":true,"p":"ticket 41"}`) || !strings.Contains(string(data), `"n":1`) {
		t.Fatalf("unexpected form: %s", data)
	}
	roundTrip(t, tr)

	var back Tracker
	for _, bad := range []string{
		`{"v":2}`,
		`{"v":1,"sources":{"s":{"entries":[{"d":"a.example","a":"obliterate"}]}}}`,
		`{"v":1,"sources":{"s":{"entries":[{"a":"suspend"}]}}}`,
		`not json`,
		`{"v":1,"sources":{"s":{"entries":[{"d":"a.example"},{"d":"a.example"}]}}}`,
		`{"v":1,"sources":{"s":{"entries":[{"d":"a.example"}],"pending":[{"d":"a.example","n":1}]}}}`,
		`{"v":1,"sources":{"s":{"pending":[{"d":"a.example","n":0}]}}}`,
	} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	// Size: 20,000 entries with 20-character domains stay under a
	// ConfigMap's 1 MiB as JSON, and far under once saved compressed, even
	// with a short comment on each.
	big := &Tracker{}
	big.Observe("big", Observation{Time: t0, Entries: domains(DefaultMaxTrackedEntries, "name-ab-")}, DefaultRetraction)
	data, _ = json.Marshal(big)
	if len(data) > 1<<20 {
		t.Fatalf("20,000 entries serialise to %d bytes", len(data))
	}
	commented := domains(DefaultMaxTrackedEntries, "name-ab-")
	for i := range commented {
		commented[i].PublicComment = []string{"spam", "harassment", "hate speech, no moderation"}[i%3]
	}
	big.Observe("big2", Observation{Time: t0, Entries: commented}, DefaultRetraction)
	saved, err := big.Save()
	if err != nil {
		t.Fatal(err)
	}
	if len(saved) > 400<<10 {
		t.Fatalf("40,000 saved entries take %d bytes", len(saved))
	}
	restored := &Tracker{}
	if err := restored.Load(saved); err != nil {
		t.Fatal(err)
	}
	if len(restored.Effective("big2")) != DefaultMaxTrackedEntries || restored.Effective("big2")[1].PublicComment != "harassment" {
		t.Fatal("Load lost entries")
	}
	// Load also reads plain JSON, and refuses garbage.
	if err := restored.Load(data); err != nil || len(restored.Sources()) != 1 {
		t.Fatalf("Load of plain JSON: %v", err)
	}
	if err := restored.Load([]byte{0x1f, 0x8b, 1, 2, 3}); err == nil {
		t.Fatal("Load accepted a broken gzip stream")
	}
}

// TestCompressWritesTheJSONItMarshals: the state written piece by piece
// is the JSON json.Marshal makes of it, and a state over its budget is
// given up without being compressed whole.
func TestCompressWritesTheJSONItMarshals(t *testing.T) {
	for _, sources := range []map[string]json.RawMessage{
		nil,
		{"b": json.RawMessage(`{"x":1}`), "a\"quoted\"": json.RawMessage(`[]`), "é": json.RawMessage(`"s"`)},
	} {
		gz, err := compress(sources, math.MaxInt)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(struct {
			V       int                        `json:"v"`
			Sources map[string]json.RawMessage `json:"sources,omitempty"`
		}{trackerVersion, sources})
		if !bytes.Equal(got, want) {
			t.Errorf("compress wrote\n%s\nwant\n%s", got, want)
		}
	}
	big := map[string]json.RawMessage{"s": json.RawMessage(`"` + strings.Repeat("x", 1<<20) + `"`)}
	if _, err := compress(big, 512); !errors.Is(err, errOverBudget) {
		t.Errorf("over the budget: %v", err)
	}
}
