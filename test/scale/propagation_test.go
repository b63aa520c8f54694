//go:build scale

package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/controllers"
)

// Issue 16, point 3: how long one new entry of a FederationPolicy takes to
// reach every server it selects, and how many writes each server gets for
// it. FEDCOMMONS_PROP_SERVERS (default 200, at most 1000) external
// Instances, half Mastodon and half GoToSocial, each a fake admin server
// that answers every request after FEDCOMMONS_PROP_LATENCY (default 20ms);
// FEDCOMMONS_PROP_RUNS (default 3, at most 9) runs, each adding a fresh
// entry. Latency of a server: from the moment the API server's answer to
// the policy update returns to the moment that server stored the new
// entry. The report is propagation.json in FEDCOMMONS_SCALE_REPORT_DIR
// (default test/scale/report). FEDCOMMONS_PROP_INSTANCE_WORKERS replaces
// the operator's default Instance workers, to compare settings.
//
// Targets (a benchmark's, reported rather than asserted): p99 ≤ 2 s over
// servers, exactly one write per server. The run fails only when the
// entry does not arrive at all, or arrives with more or fewer writes.

const (
	propCommunity = "propagation"
	propDomain    = "propagation.example"
	propPolicy    = "shared"
)

// propRun is what one run measured.
type propRun struct {
	Entry             string  `json:"entry"`
	P50Ms             float64 `json:"p50_ms"`
	P99Ms             float64 `json:"p99_ms"`
	MaxMs             float64 `json:"max_ms"`
	WritesMin         int     `json:"writes_per_server_min"`
	WritesMax         int     `json:"writes_per_server_max"`
	GetsMin           int     `json:"gets_per_server_min"`
	GetsMax           int     `json:"gets_per_server_max"`
	AllSyncedStatusMs float64 `json:"all_status_synced_ms"`
	// From the operator's metrics, during the run: Instance reconciles,
	// their mean duration and mean wait in the queue.
	Reconciles      int     `json:"instance_reconciles"`
	ReconcileMeanMs float64 `json:"instance_reconcile_mean_ms"`
	QueueWaitMeanMs float64 `json:"instance_queue_wait_mean_ms"`
}

// propReport is propagation.json: the medians over runs, then each run.
type propReport struct {
	Servers          int       `json:"servers"`
	InstanceWorkers  int       `json:"instance_workers"`
	LatencyMs        float64   `json:"server_latency_ms"`
	Runs             int       `json:"runs"`
	P50Ms            float64   `json:"p50_ms"`
	P99Ms            float64   `json:"p99_ms"`
	MaxMs            float64   `json:"max_ms"`
	WritesMin        int       `json:"writes_per_server_min"`
	WritesMax        int       `json:"writes_per_server_max"`
	InitialConvergeS float64   `json:"initial_converge_s"`
	TargetP99Met     bool      `json:"target_p99_le_2s_met"`
	TargetWritesMet  bool      `json:"target_one_write_met"`
	PerRun           []propRun `json:"per_run"`
	Command          string    `json:"command"`
}

func TestPropagation(t *testing.T) {
	servers := propEnvInt(t, "FEDCOMMONS_PROP_SERVERS", 200, 1, 1000)
	runs := propEnvInt(t, "FEDCOMMONS_PROP_RUNS", 3, 1, 9)
	latency := 20 * time.Millisecond
	if v := os.Getenv("FEDCOMMONS_PROP_LATENCY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 2*time.Second {
			t.Fatalf("FEDCOMMONS_PROP_LATENCY=%q: want a duration from 0 to 2s", v)
		}
		latency = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()

	// 0: the operator's default (controllers.DefaultInstanceWorkers).
	workers := propEnvInt(t, "FEDCOMMONS_PROP_INSTANCE_WORKERS", 0, 0, 256)
	_, c := startPropWorld(t, ctx, workers)
	if err := createCommunity(ctx, c, propCommunity, propDomain); err != nil {
		t.Fatalf("community: %v", err)
	}
	ns := propCommunity
	start := time.Now()
	fleet, err := startServers(t, ctx, c, ns, propDomain, servers, latency)
	if err != nil {
		t.Fatalf("servers: %v", err)
	}
	policy := &v1alpha1.FederationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: propPolicy},
		Spec: v1alpha1.FederationPolicySpec{Entries: []v1alpha1.PolicyEntry{
			{Domain: "initial.example", Action: v1alpha1.ActionSuspend},
		}},
	}
	if err := c.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	if _, err := propConverge(ctx, c, ns, fleet, "initial.example", time.Time{}, 10*time.Minute); err != nil {
		t.Fatalf("initial policy: %v", err)
	}
	initial := time.Since(start)
	t.Logf("%d servers hold the initial policy %s after the first Instance was created", servers, initial.Round(time.Millisecond))

	if workers == 0 {
		workers = controllers.DefaultInstanceWorkers
	}
	report := propReport{Servers: servers, InstanceWorkers: workers, LatencyMs: ms(latency), Runs: runs,
		InitialConvergeS: initial.Seconds(),
		Command:          "make bench-propagation"}
	for r := range runs {
		run, err := propOneRun(ctx, t, c, ns, fleet, fmt.Sprintf("run%d-%d.example", r, time.Now().Unix()))
		if err != nil {
			t.Fatalf("run %d: %v", r, err)
		}
		t.Logf("run %d: p50 %.0f ms, p99 %.0f ms, max %.0f ms; writes per server %d..%d; GETs per server %d..%d; every status synced after %.0f ms; %d Instance reconciles of %.0f ms, %.0f ms in the queue (means)",
			r, run.P50Ms, run.P99Ms, run.MaxMs, run.WritesMin, run.WritesMax, run.GetsMin, run.GetsMax, run.AllSyncedStatusMs,
			run.Reconciles, run.ReconcileMeanMs, run.QueueWaitMeanMs)
		report.PerRun = append(report.PerRun, run)
	}
	report.P50Ms = medianOf(report.PerRun, func(r propRun) float64 { return r.P50Ms })
	report.P99Ms = medianOf(report.PerRun, func(r propRun) float64 { return r.P99Ms })
	report.MaxMs = medianOf(report.PerRun, func(r propRun) float64 { return r.MaxMs })
	report.WritesMin, report.WritesMax = report.PerRun[0].WritesMin, report.PerRun[0].WritesMax
	for _, r := range report.PerRun {
		report.WritesMin, report.WritesMax = min(report.WritesMin, r.WritesMin), max(report.WritesMax, r.WritesMax)
	}
	report.TargetP99Met = report.P99Ms <= 2000
	report.TargetWritesMet = report.WritesMin == 1 && report.WritesMax == 1
	path := writePropReport(t, report)
	t.Logf("median of %d runs over %d servers: p50 %.0f ms, p99 %.0f ms, max %.0f ms; writes per server %d..%d (%s)",
		runs, servers, report.P50Ms, report.P99Ms, report.MaxMs, report.WritesMin, report.WritesMax, path)
	if !report.TargetWritesMet {
		t.Errorf("each server must get exactly one write for one new entry; got %d..%d", report.WritesMin, report.WritesMax)
	}
}

// propOneRun adds entry to the policy and measures its way to every server.
func propOneRun(ctx context.Context, t *testing.T, c client.Client, ns string, fleet []*propServer, entry string) (propRun, error) {
	for _, s := range fleet {
		s.srv.ResetCounters()
	}
	rec0, wait0 := propInstanceMetrics()
	p := &v1alpha1.FederationPolicy{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: propPolicy}, p); err != nil {
		return propRun{}, err
	}
	base := p.DeepCopy()
	p.Spec.Entries = append(p.Spec.Entries, v1alpha1.PolicyEntry{Domain: v1alpha1.Domain(entry), Action: v1alpha1.ActionSuspend})
	if err := c.Patch(ctx, p, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return propRun{}, err
	}
	t0 := time.Now()
	lat, err := propConverge(ctx, c, ns, fleet, entry, t0, 2*time.Minute)
	if err != nil {
		return propRun{}, err
	}
	synced := time.Since(t0)
	// Late writes (a second pass that writes again) would show here.
	time.Sleep(2 * time.Second)
	rec1, wait1 := propInstanceMetrics()
	run := propRun{Entry: entry, AllSyncedStatusMs: ms(synced), Reconciles: int(rec1.count - rec0.count),
		ReconcileMeanMs: rec1.meanMsSince(rec0), QueueWaitMeanMs: wait1.meanMsSince(wait0)}
	slices.Sort(lat)
	run.P50Ms, run.P99Ms, run.MaxMs = ms(rank(lat, 0.50)), ms(rank(lat, 0.99)), ms(lat[len(lat)-1])
	for i, s := range fleet {
		w, g := s.srv.Writes(), s.srv.Requests()-s.srv.Writes()
		if i == 0 {
			run.WritesMin, run.WritesMax, run.GetsMin, run.GetsMax = w, w, g, g
		}
		run.WritesMin, run.WritesMax = min(run.WritesMin, w), max(run.WritesMax, w)
		run.GetsMin, run.GetsMax = min(run.GetsMin, g), max(run.GetsMax, g)
	}
	return run, nil
}

// propConverge waits until every server stores entry and every Instance
// reports the policy's current hash as synced, and returns each server's
// time from t0 to storing it (when t0 is set).
func propConverge(ctx context.Context, c client.Client, ns string, fleet []*propServer, entry string, t0 time.Time, timeout time.Duration) ([]time.Duration, error) {
	lat := make([]time.Duration, len(fleet))
	have := make([]bool, len(fleet))
	left := len(fleet)
	err := propPoll(ctx, timeout, func() (bool, error) {
		for i, s := range fleet {
			if have[i] {
				continue
			}
			for _, b := range s.srv.Blocks() {
				if b.Domain == entry {
					have[i], lat[i] = true, b.CreatedAt.Sub(t0)
					left--
				}
			}
		}
		return left == 0, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%d of %d servers do not hold %s: %w", left, len(fleet), entry, err)
	}
	err = propPoll(ctx, timeout, func() (bool, error) {
		p := &v1alpha1.FederationPolicy{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: propPolicy}, p); err != nil {
			return false, err
		}
		list := &v1alpha1.InstanceList{}
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, inst := range list.Items {
			cond := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionFederationSynced)
			if cond == nil || cond.Status != metav1.ConditionTrue || inst.Status.Federation == nil ||
				p.Status.PolicyHash == "" || inst.Status.Federation.PolicyHash != p.Status.PolicyHash {
				return false, nil
			}
		}
		return len(list.Items) == len(fleet), nil
	})
	if err != nil {
		return nil, fmt.Errorf("Instances do not all report the policy synced: %w", err)
	}
	return lat, nil
}

// rank is the nearest-rank percentile q of sorted durations.
func rank(sorted []time.Duration, q float64) time.Duration {
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func medianOf(runs []propRun, f func(propRun) float64) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func propEnvInt(t *testing.T, name string, def, lo, hi int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		t.Fatalf("%s=%q: want a number from %d to %d", name, v, lo, hi)
	}
	return n
}

// writePropReport writes propagation.json where the scale harness keeps
// its reports.
func writePropReport(t *testing.T, r propReport) string {
	dir := os.Getenv("FEDCOMMONS_SCALE_REPORT_DIR")
	if dir == "" {
		dir = "report"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "propagation.json")
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
