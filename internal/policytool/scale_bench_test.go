package policytool

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// computeGenerated runs what `fedcommons policy explain --offline` runs
// on the generated lists: load the manifest, read each list from its
// file, parse, normalise, merge.
func computeGenerated(tb testing.TB, policy string, files map[string]string) *Computed {
	tb.Helper()
	m, err := Load(policy)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := m.Policy("")
	if err != nil {
		tb.Fatal(err)
	}
	r := &Resolver{Files: files}
	c, err := r.Compute(context.Background(), p, m.Instances)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// policyHash digests everything a merged policy says: every effective
// entry with its decision and provenance summary, every refusal, and the
// notes (which count each list's entries and skipped rows).
func policyHash(c *Computed, dir string) string {
	h := sha256.New()
	for _, e := range c.Policy.Entries {
		fmt.Fprintf(h, "%s|%s|%t|%t|%t|%q|%q|%s\n", e.Domain, e.Action, e.RejectMedia, e.RejectReports, e.Obfuscate, e.PublicComment, e.PrivateComment, e.Summary())
	}
	for _, r := range c.Policy.Rejected {
		fmt.Fprintf(h, "rejected %+v\n", r)
	}
	var notes strings.Builder
	_ = WriteNotes(&notes, c)
	io.WriteString(h, strings.ReplaceAll(notes.String(), dir, "DIR")) // temporary directories differ
	_ = WriteExplain(io.Discard, c, []string{"spam.example"})
	return hex.EncodeToString(h.Sum(nil))
}

// Golden digests of the merged policy of the generated lists (seed 1),
// recorded with the parser as it was before the fast path of issue 16
// item 4 (commit 2474cdc): the optimised path must give the same result.
const (
	goldenSmall = "83d947966a32a2b26b48abfb286efef09d1a61646efcc59e7eaf113ffda7c393"
	goldenFull  = "b6dbdac0bfd84a55ff6d1328d3fd71c1a78fd21e70b4d2b89d6491c44bbe19f6"
)

// TestGeneratedListsSameResult checks that parse + normalise + merge of
// ten generated lists (2,000 rows each) gives, byte for byte, what the
// code before the optimisation gave.
func TestGeneratedListsSameResult(t *testing.T) {
	dir := t.TempDir()
	policy, files := writeGeneratedLists(t, dir, 1, genLists, 2_000)
	c := computeGenerated(t, policy, files)
	if len(c.Policy.Entries) < 2_000 || len(c.Policy.Rejected) == 0 {
		t.Fatalf("%d entries, %d refused: the generated lists are not shaped like real ones", len(c.Policy.Entries), len(c.Policy.Rejected))
	}
	if got := policyHash(c, dir); got != goldenSmall {
		t.Errorf("merged policy digest %s, want %s (recorded before the optimisation)", got, goldenSmall)
	}
}

// BenchmarkExplainTenLists measures issue 16 item 4: parse, normalise and
// merge ten Mastodon CSV lists of 100,000 domains each (53 MB), read
// from local files, as `fedcommons policy explain` does. The result is
// checked against the digest recorded before the optimisation.
func BenchmarkExplainTenLists(b *testing.B) {
	dir := b.TempDir()
	policy, files := writeGeneratedLists(b, dir, 1, genLists, genPerList)
	runtime.GC() // the generator's garbage is not the benchmark's
	b.ReportAllocs()
	b.ResetTimer()
	var c *Computed
	cpu0 := cpuTime(b)
	for b.Loop() {
		c = computeGenerated(b, policy, files)
	}
	b.StopTimer()
	// The machine is shared: CPU time (user+system, garbage collector
	// included) is the figure other builds disturb least.
	b.ReportMetric((cpuTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(len(c.Policy.Entries)), "entries")
	if got := policyHash(c, dir); got != goldenFull && goldenFull != "TODO" {
		b.Fatalf("merged policy digest %s, want %s (recorded before the optimisation)", got, goldenFull)
	} else if goldenFull == "TODO" {
		b.Logf("digest %s", got)
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
