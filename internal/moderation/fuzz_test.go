package moderation

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// seedFiles adds every testdata file (and a few hand-picked inputs) to a
// fuzz target's corpus.
func seedFiles(f *testing.F, extra ...string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if info, err := os.Stat(name); err != nil || info.IsDir() {
			continue // testdata/fuzz holds the fuzzer's own regressions
		}
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// projection is what a writer's format can carry of an entry, so the
// round trip can be compared: GoToSocial JSON and plain text hold only
// suspensions, plain text only their domains.
func projection(format Format, entries []Entry) []Entry {
	var out []Entry
	for _, e := range entries {
		switch format {
		case FormatMastodonCSV:
			out = append(out, e)
		case FormatGoToSocialJSON:
			if e.Action == Suspend {
				out = append(out, Entry{Domain: e.Domain, Action: Suspend, PublicComment: e.PublicComment, Obfuscate: e.Obfuscate})
			}
		case FormatPlain:
			if e.Action == Suspend {
				out = append(out, Entry{Domain: e.Domain, Action: Suspend})
			}
		}
	}
	return out
}

// checkParseRoundTrip parses data in format and, if that succeeds, writes
// the entries in every publishable format and parses them back.
func checkParseRoundTrip(t *testing.T, format Format, data []byte) {
	res, err := Parse(format, bytes.NewReader(data))
	if err != nil {
		return // refusing a whole input is allowed; panicking is not
	}
	seen := map[string]bool{}
	for _, e := range res.Entries {
		d, wildcard, err := NormalizeDomain(e.Domain)
		if err != nil || d != e.Domain || wildcard {
			t.Fatalf("entry domain %q is not normalised (%q, %v, %v)", e.Domain, d, wildcard, err)
		}
		if seen[e.Domain] {
			t.Fatalf("duplicate entry %q", e.Domain)
		}
		seen[e.Domain] = true
		if e.PrivateComment != "" || e.Action == Allow || e != e.Canonical() {
			t.Fatalf("parser produced %+v", e)
		}
	}
	for _, out := range []Format{FormatMastodonCSV, FormatGoToSocialJSON, FormatPlain} {
		var buf bytes.Buffer
		if err := Write(out, &buf, res.Entries); err != nil {
			t.Fatalf("Write(%s): %v", out, err)
		}
		again, err := Parse(out, bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("re-parse %s: %v\n%s", out, err, buf.String())
		}
		if len(again.Problems) != 0 || again.Obfuscated != 0 {
			t.Fatalf("re-parse %s: problems %v obfuscated %d\n%s", out, again.Problems, again.Obfuscated, buf.String())
		}
		if want := projection(out, res.Entries); !slices.Equal(again.Entries, want) {
			t.Fatalf("round trip through %s:\n got  %+v\n want %+v\n%s", out, again.Entries, want, buf.String())
		}
	}
}

func FuzzParseMastodonCSV(f *testing.F) {
	seedFiles(f, "#domain,#severity\n\"a.example\",\"silence\"\n", "#domain\n\"unterminated\n")
	f.Fuzz(func(t *testing.T, data []byte) { checkParseRoundTrip(t, FormatMastodonCSV, data) })
}

func FuzzParseFediBlockHoleCSV(f *testing.F) {
	seedFiles(f, "public_comment,domain\n\" spaced \",B.example\n")
	f.Fuzz(func(t *testing.T, data []byte) { checkParseRoundTrip(t, FormatFediBlockHoleCSV, data) })
}

func FuzzParseGoToSocialJSON(f *testing.F) {
	seedFiles(f, `[{"domain":"a.example","comment":"\r\nx\u00e9"}]`, `[null, 1, "x", {}]`)
	f.Fuzz(func(t *testing.T, data []byte) { checkParseRoundTrip(t, FormatGoToSocialJSON, data) })
}

func FuzzParseMastodonAPIJSON(f *testing.F) {
	seedFiles(f, `[{"domain":"a.example","severity":"noop","comment":"x"}]`)
	f.Fuzz(func(t *testing.T, data []byte) { checkParseRoundTrip(t, FormatMastodonAPIJSON, data) })
}

func FuzzParsePlain(f *testing.F) {
	seedFiles(f, "a.example\r\n*.b.example # x\n\xff\n")
	f.Fuzz(func(t *testing.T, data []byte) { checkParseRoundTrip(t, FormatPlain, data) })
}

func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{"example.com", "*.Bücher.example.", "ex*mple.com", "xn--bcher-kva.example", "a..b", "-x.example", "a_b.example", "XN--ZZ.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// isNormalized is a specialised copy of this test; they must agree.
		if d, ok := fastASCII(s); isNormalized(s) != (ok && d == s) {
			t.Fatalf("isNormalized(%q) = %v, fastASCII says %q, %v", s, isNormalized(s), d, ok)
		}
		d, _, err := NormalizeDomain(s)
		if err != nil {
			return
		}
		// Normal form is a fixed point, and what Merge's fast check accepts.
		again, wildcard, err := NormalizeDomain(d)
		if err != nil || again != d || wildcard {
			t.Fatalf("NormalizeDomain(%q) = %q, but NormalizeDomain(%q) = %q, %v, %v", s, d, d, again, wildcard, err)
		}
		if !isNormalized(d) {
			t.Fatalf("%q is normal but isNormalized says no", d)
		}
	})
}

// fuzzDomains is a small universe so fuzzed sources overlap, with parents
// and children, a public suffix, a protected name, an exception and IDNA.
var fuzzDomains = []string{
	"a.example", "b.a.example", "c.b.a.example", "example", "co.uk", "spam.co.uk",
	"social.riverside.coop", "riverside.coop", "friends.example", "x.friends.example",
	"bücher.example", "workers.dev", "ex*mple.com", "z.example",
}

// fuzzInput turns bytes into a merge input: a header choosing threshold
// and rule, then 3-byte records (source, domain, action and flags).
func fuzzInput(data []byte) MergeInput {
	in := MergeInput{
		Owner: "riverside",
		// Another community's instance refuses subscribed blocks only.
		Protected:  []Protected{{Domain: "social.riverside.coop", Owner: "riverside"}, {Domain: "b.a.example", Owner: "hillside"}},
		Exceptions: []string{"friends.example"},
	}
	if len(data) < 3 {
		return in
	}
	in.Threshold = []Threshold{{ThresholdWeight, 1 + int(data[0]%4)}, {ThresholdCount, 1 + int(data[0]%3)}, {ThresholdPercent, 1 + int(data[0])%100}}[int(data[1])%3]
	if data[2]%2 == 1 {
		in.Rule = MergeMin
	}
	const n = 4
	in.Sources = make([]Source, n)
	for i := range in.Sources {
		in.Sources[i] = Source{Name: "s" + strconv.Itoa(i), Weight: (int(data[0]) >> i) % 3}
		if i == 2 {
			silence := Silence
			in.Sources[i].MaxAction = &silence
		}
	}
	for rec := data[3:]; len(rec) >= 3; rec = rec[3:] {
		e := Entry{
			Domain:        fuzzDomains[int(rec[1])%len(fuzzDomains)],
			Action:        Action(rec[2] % 5),
			RejectMedia:   rec[2]&8 != 0,
			RejectReports: rec[2]&16 != 0,
			Obfuscate:     rec[2]&32 != 0,
			PublicComment: []string{"", "spam", "abuse"}[int(rec[2]>>6)%3],
		}
		if which := int(rec[0]) % (n + 1); which == n {
			in.Local = append(in.Local, e)
		} else {
			in.Sources[which].Entries = append(in.Sources[which].Entries, e)
		}
	}
	return in
}

func FuzzMerge(f *testing.F) {
	f.Add([]byte{5, 0, 0, 0, 0, 3, 1, 0, 3, 4, 1, 2})
	f.Add([]byte{7, 2, 1, 0, 1, 3, 1, 1, 2, 2, 2, 3, 4, 6, 0, 3, 5, 3})
	f.Add([]byte{255, 1, 0, 4, 9, 4, 0, 9, 3, 1, 12, 3, 2, 11, 19})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzInput(data)
		p, err := Merge(in)
		if err != nil {
			t.Fatalf("Merge: %v", err)
		}
		checkPolicyInvariants(t, p)
		for _, e := range p.Entries {
			bySources := e.Provenance.Decision.Kind == DecidedByConsensus
			if e.Action.IsBlock() && (RefusePublicSuffix(e.Domain) != "" || p.guard.refuse(e.Domain).refuses(bySources)) {
				t.Fatalf("refused domain %s blocked: %+v", e.Domain, e.Entry)
			}
		}
		// Deterministic: the same input in reverse order gives the same hash.
		rev := in
		rev.Local = slices.Clone(in.Local)
		slices.Reverse(rev.Local)
		rev.Sources = slices.Clone(in.Sources)
		slices.Reverse(rev.Sources)
		for i := range rev.Sources {
			rev.Sources[i].Entries = slices.Clone(rev.Sources[i].Entries)
			slices.Reverse(rev.Sources[i].Entries)
		}
		p2, err := Merge(rev)
		if err != nil {
			t.Fatal(err)
		}
		if p.Hash() != p2.Hash() || !slices.Equal(effective(p), effective(p2)) {
			t.Fatalf("merge depends on input order:\n %+v\n %+v", effective(p), effective(p2))
		}
		for _, d := range fuzzDomains {
			_ = p.Explain(d).String()
		}
		// Applying the plan for this policy converges.
		plan := Diff(p.Desired(), nil)
		if len(plan.Create)+len(plan.Covered) != len(p.Desired()) {
			t.Fatalf("plan on an empty server: %d creates + %d covered != %d desired", len(plan.Create), len(plan.Covered), len(p.Desired()))
		}
	})
}

func FuzzDiff(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0, 0, 3, 1, 1, 3, 2, 2, 130, 3, 3, 131})
	f.Fuzz(func(t *testing.T, data []byte) {
		var desired []Entry
		var current []ServerEntry
		for i, rec := 0, data; len(rec) >= 3; i, rec = i+1, rec[3:] {
			e := Entry{Domain: fuzzDomains[int(rec[1])%6], Action: Action(rec[2] % 5), RejectReports: rec[2]&8 != 0}
			if rec[0]%2 == 0 {
				desired = append(desired, e)
			} else {
				current = append(current, ServerEntry{ID: strconv.Itoa(i), Entry: e, Managed: rec[2]&128 == 0})
			}
		}
		plan := Diff(desired, current)
		for _, d := range plan.Delete {
			if !d.Managed {
				t.Fatalf("plan deletes an unmanaged entry: %+v", d)
			}
		}
		for _, u := range plan.Update {
			for _, c := range current {
				if c.ID == u.ID && !c.Managed {
					t.Fatalf("plan updates an unmanaged entry: %+v", u)
				}
			}
		}
		// Carrying the plan out leaves nothing to do.
		server := map[string]ServerEntry{}
		for _, c := range current {
			server[c.ID] = c
		}
		for _, d := range plan.Delete {
			delete(server, d.ID)
		}
		for _, u := range plan.Update {
			s := server[u.ID]
			s.Entry = u.To
			server[u.ID] = s
		}
		for i, c := range plan.Create {
			server["new"+strconv.Itoa(i)] = ServerEntry{ID: "new" + strconv.Itoa(i), Entry: c, Managed: true}
		}
		var after []ServerEntry
		for _, s := range server {
			after = append(after, s)
		}
		if again := Diff(desired, after); !again.Empty() {
			t.Fatalf("second Diff not empty: %+v\nfirst: %+v", again, plan)
		}
	})
}

// FuzzProtectedByOthers: no protected domain of another community ever
// removes or changes a local entry (issue 12, case 3). The fuzzed input is
// merged with our own instances only, then again with other communities'
// instances on fuzzed names and their subdomains (invalid ones included):
// every local outcome must be the same, and no subscribed block may land
// on a name they protect.
func FuzzProtectedByOthers(f *testing.F) {
	f.Add([]byte{5, 0, 0, 4, 0, 3, 4, 7, 3, 0, 0, 3}, uint32(1|1<<6|1<<17))
	f.Add([]byte{7, 2, 1, 4, 1, 3, 4, 2, 2, 2, 3, 4, 4, 6, 0, 3, 5, 3}, uint32(0xffffffff))
	f.Add([]byte{255, 1, 0, 4, 9, 4, 4, 9, 3, 1, 12, 3, 4, 11, 19}, uint32(1<<12|1<<28))
	f.Fuzz(func(t *testing.T, data []byte, mask uint32) {
		in := fuzzInput(data)
		in.Protected = slices.DeleteFunc(slices.Clone(in.Protected), func(p Protected) bool { return p.Owner != in.Owner })
		alone, err := Merge(in)
		if err != nil {
			t.Fatalf("Merge: %v", err)
		}
		with := in
		with.Protected = slices.Clone(in.Protected)
		for i, d := range fuzzDomains {
			if mask&(1<<i) != 0 {
				with.Protected = append(with.Protected, Protected{Domain: d, Owner: "hillside"})
			}
			if mask&(1<<(16+i)) != 0 {
				with.Protected = append(with.Protected, Protected{Domain: "x." + d, Owner: "lakeside"})
			}
		}
		p, err := Merge(with)
		if err != nil {
			t.Fatalf("Merge with other communities' instances: %v", err)
		}
		checkPolicyInvariants(t, p)
		locals := func(p *Policy) (entries []Entry, rejected []Rejection) {
			for _, e := range p.Entries {
				if e.Provenance.Decision.Kind == DecidedLocally {
					entries = append(entries, e.Entry)
				}
			}
			for _, r := range p.Rejected {
				if r.Source == LocalSource {
					rejected = append(rejected, r)
				}
			}
			return entries, rejected
		}
		e1, r1 := locals(alone)
		e2, r2 := locals(p)
		if !slices.Equal(e1, e2) || !slices.Equal(r1, r2) {
			t.Fatalf("other communities' instances changed local outcomes (protected %+v):\n entries %+v\n      vs %+v\n rejected %+v\n       vs %+v",
				with.Protected, e1, e2, r1, r2)
		}
		for _, e := range p.Entries {
			if e.Provenance.Decision.Kind == DecidedByConsensus && e.Action.IsBlock() && p.guard.refuse(e.Domain).reason != "" {
				t.Fatalf("subscribed block on protected %s: %+v", e.Domain, e.Entry)
			}
		}
	})
}
