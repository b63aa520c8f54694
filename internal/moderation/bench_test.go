package moderation

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var benchComments = []string{"", "", "Spam", "Hate speech", "Harassment", "Inappropriate content", "iftas:csam", "Unmanaged spam"}

var benchTLDs = []string{"social", "com", "net", "org", "xyz", "online", "club", "de", "co.uk", "jp"}

// benchDomain names the i-th domain of the generated universe; some are
// subdomains of others, as on real lists.
func benchDomain(i int) string {
	base := "host" + strconv.Itoa(i/3) + "-fedi." + benchTLDs[i%len(benchTLDs)]
	if i%3 == 2 {
		return "sub" + strconv.Itoa(i%7) + "." + base
	}
	return base
}

// benchSources builds n sources of size entries each, deterministically.
// Real lists overlap a lot: every source carries most of a shared core of
// notorious domains, plus a long tail of its own picks. Published feeds
// are sorted by domain; sorted=false shuffles them to measure that path.
func benchSources(n, size int, sorted bool) []Source {
	const universe = 400_000
	core := size * 6 / 10
	sources := make([]Source, n)
	for s := range n {
		rng := rand.New(rand.NewPCG(uint64(s), 42))
		seen := make(map[int]bool, size)
		entries := make([]Entry, 0, size)
		add := func(i int) {
			if seen[i] {
				return
			}
			seen[i] = true
			e := Entry{Domain: benchDomain(i), Action: Suspend, PublicComment: benchComments[rng.IntN(len(benchComments))]}
			switch r := rng.IntN(100); {
			case r < 15:
				e.Action = Silence
			case r < 18:
				e.Action, e.RejectMedia = RejectMedia, true
			case r < 20:
				e.RejectReports = true
			}
			e.Obfuscate = rng.IntN(10) == 0
			entries = append(entries, e)
		}
		for i := range core {
			if rng.IntN(10) < 8 { // each source has 80% of the core
				add(i)
			}
		}
		for len(entries) < size {
			add(core + rng.IntN(universe-core))
		}
		if sorted {
			slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Domain, b.Domain) })
		} else {
			rng.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
		}
		// A parser allocates each domain as it reads the file; copy them
		// in file order so memory looks like Parse's output, not like
		// the generator's.
		for i := range entries {
			entries[i].Domain = strings.Clone(entries[i].Domain)
		}
		weight := 1 + s%3
		if s == n-1 {
			weight = 0 // watched only
		}
		sources[s] = Source{Name: "source-" + strconv.Itoa(s), Weight: weight, Entries: entries}
	}
	silence := Silence
	sources[1].MaxAction = &silence
	return sources
}

func benchInput(sorted bool) MergeInput {
	return MergeInput{
		Sources:    benchSources(10, 100_000, sorted),
		Threshold:  Threshold{ThresholdWeight, 2},
		Rule:       MergeMax,
		Local:      []Entry{{Domain: "spam.example", Action: Suspend}, {Domain: "host7-fedi.social", Action: Allow}},
		Exceptions: []string{"friends.example", benchDomain(30)},
		Protected:  []Protected{{Domain: "social.riverside.coop"}, {Domain: benchDomain(60)}},
	}
}

func benchmarkMerge(b *testing.B, sorted bool) {
	in := benchInput(sorted)
	b.ReportAllocs()
	b.ResetTimer()
	var p *Policy
	for b.Loop() {
		var err error
		if p, err = Merge(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(p.Entries)), "entries")
}

// BenchmarkMerge10x100k merges 10 sources of 100,000 domains each, with
// provenance, as published feeds arrive (sorted by domain).
func BenchmarkMerge10x100k(b *testing.B) { benchmarkMerge(b, true) }

// BenchmarkMerge10x100kUnsorted is the same with every source shuffled.
func BenchmarkMerge10x100kUnsorted(b *testing.B) { benchmarkMerge(b, false) }

// BenchmarkDesired renders what servers receive from the merged policy of
// BenchmarkMerge10x100k: every entry's summary, whose decision text is
// where the numbers of a decision are formatted.
func BenchmarkDesired(b *testing.B) {
	p, err := Merge(benchInput(true))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = p.Desired()
	}
}

// BenchmarkDiff diffs 100,000 desired entries against a server holding
// most of them, some changed, some stale, some not ours.
func BenchmarkDiff(b *testing.B) {
	const n = 100_000
	desired := make([]Entry, n)
	for i := range desired {
		desired[i] = Entry{Domain: benchDomain(i), Action: Suspend, PublicComment: benchComments[i%len(benchComments)]}
	}
	slices.SortFunc(desired, func(a, b Entry) int { return strings.Compare(a.Domain, b.Domain) })
	var current []ServerEntry
	for i := range n + n/10 {
		e := Entry{Domain: benchDomain(i), Action: Suspend, PublicComment: benchComments[i%len(benchComments)]}
		switch {
		case i%10 == 0:
			continue // missing: create
		case i%17 == 0:
			e.Action = Silence // changed: update
		}
		current = append(current, ServerEntry{ID: strconv.Itoa(i), Entry: e, Managed: i%50 != 0})
	}
	b.ReportAllocs()
	b.ResetTimer()
	var plan Plan
	for b.Loop() {
		plan = Diff(desired, current)
	}
	b.ReportMetric(float64(plan.Writes()), "writes")
}

// TestBenchInputIsRealistic keeps the benchmark honest: the generated
// sources overlap, and the merge produces a large policy.
func TestBenchInputIsRealistic(t *testing.T) {
	in := benchInput(true)
	in.Sources = benchSources(10, 5_000, true)
	p := mustMerge(t, in)
	checkPolicyInvariants(t, p)
	if len(p.Entries) < 3_000 || len(p.Entries) > 30_000 {
		t.Errorf("%d effective entries from 10×5,000: overlap unrealistic", len(p.Entries))
	}
}
