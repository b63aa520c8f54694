//go:build scale

package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// rolloutResult is one run of TestScaleRollout, as written to
// <report dir>/rollout-<label>-<size>-<run>.json.
type rolloutResult struct {
	Benchmark    string    `json:"benchmark"` // "rollout"
	Label        string    `json:"label"`
	Instances    int       `json:"instances"`
	Communities  int       `json:"communities"`
	Run          int       `json:"run"`
	Started      time.Time `json:"started"`
	Machine      machine   `json:"machine"`
	ManagerFlags []string  `json:"managerFlags,omitempty"`
	ManagerEnv   []string  `json:"managerEnv,omitempty"`
	// Commit is the checkout the operator was built from.
	Commit string `json:"commit"`
	// Load averages (1 min) when the rollout began, when all was Ready,
	// and when the steady state ended: the machine is shared.
	LoadStart float64 `json:"loadStart"`
	LoadReady float64 `json:"loadReady"`
	LoadEnd   float64 `json:"loadEnd"`

	TimeToReadySeconds float64 `json:"timeToReadySeconds"`
	// The physical limit and the operator's time over it.
	BaselineSeconds float64 `json:"baselineSeconds"`
	BaselineObjects int     `json:"baselineObjects"`
	BaselineRatio   float64 `json:"baselineRatio"`

	Rollout  requestFigures `json:"rollout"`
	Settle   requestFigures `json:"settle"`
	Steady   requestFigures `json:"steady"`
	Baseline requestFigures `json:"baseline"`

	PeakRSSBytes        int64   `json:"peakRSSBytes"`        // VmHWM at the end
	PeakRSSMetricsBytes float64 `json:"peakRSSMetricsBytes"` // max of process_resident_memory_bytes, sampled
	CPUSecondsRollout   float64 `json:"cpuSecondsRollout"`
	CPUSecondsSteady    float64 `json:"cpuSecondsSteady"`

	Reconcile []latency `json:"reconcile"` // controller_runtime_reconcile_time_seconds by controller
	QueueWait []latency `json:"queueWait"` // workqueue_queue_duration_seconds by queue
}

// requestFigures are a user's API requests in a window.
type requestFigures struct {
	Seconds float64 `json:"seconds"`
	// SpanSeconds is from the first request of the window to the last.
	SpanSeconds   float64        `json:"spanSeconds"`
	Requests      int            `json:"requests"`
	Writes        int            `json:"writes"`
	Reads         int            `json:"reads"`
	PerInstance   float64        `json:"perInstance"`
	ReadsPerMin   float64        `json:"readsPerMinute"`
	ByVerb        []requestCount `json:"byVerbResource"`
	WriteExamples []string       `json:"writeExamples,omitempty"`
}

func figures(events []auditEvent, window time.Duration, instances int) requestFigures {
	w, r := countWrites(events)
	f := requestFigures{Seconds: window.Seconds(), Requests: len(events), Writes: w, Reads: r,
		ByVerb: countRequests(events), WriteExamples: writeExamples(events, 20)}
	if len(events) > 0 {
		first, last := events[0].Received, events[0].Received
		for _, e := range events {
			first, last = minTime(first, e.Received), maxTime(last, e.Received)
		}
		f.SpanSeconds = last.Sub(first).Seconds()
	}
	if instances > 0 {
		f.PerInstance = float64(len(events)) / float64(instances)
	}
	if window > 0 {
		f.ReadsPerMin = float64(r) / window.Minutes()
	}
	return f
}

// TestScaleRollout rolls out each size SCALE_RUNS times, each on a fresh
// cluster, and writes one JSON per run.
func TestScaleRollout(t *testing.T) {
	// The harness's own controller-runtime clients log nothing worth
	// reading; the operator's log is a file per run.
	logf.SetLogger(logr.Discard())
	cfg, err := loadConfig()
	must(t, err)
	must(t, os.MkdirAll(cfg.ReportDir, 0o755))
	// The commit is read when the operator is built, not when a run
	// ends: the checkout may move while a long run goes on.
	built := commit()
	bin := buildOperator(t)
	for _, size := range cfg.Sizes {
		for run := 1; run <= cfg.Runs; run++ {
			t.Run(fmt.Sprintf("%d-instances-run-%d", size, run), func(t *testing.T) {
				res := rolloutRun(t, cfg, bin, built, size, run)
				data, err := json.MarshalIndent(res, "", "  ")
				must(t, err)
				path := filepath.Join(cfg.ReportDir, fmt.Sprintf("rollout-%s-%d-%d.json", cfg.Label, size, run))
				must(t, os.WriteFile(path, append(data, '\n'), 0o644))
				t.Logf("%d Instances: Ready in %.1fs (baseline %.1fs, %.2f×), %.1f requests/Instance, steady writes %d, reads %.0f/min, peak RSS %.0f MiB, CPU %.1fs; wrote %s",
					size, res.TimeToReadySeconds, res.BaselineSeconds, res.BaselineRatio, res.Rollout.PerInstance,
					res.Steady.Writes, res.Steady.ReadsPerMin, float64(res.PeakRSSBytes)/(1<<20), res.CPUSecondsRollout, path)
			})
		}
	}
}

func rolloutRun(t *testing.T, cfg config, bin, built string, size, run int) rolloutResult {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	communities := max(size/cfg.PerCommunity, 1)
	per := size / communities
	instances := communities * per
	r := newRig(t, ctx, instances)
	res := rolloutResult{Benchmark: "rollout", Label: cfg.Label, Instances: instances, Communities: communities,
		Run: run, Machine: describeMachine(), ManagerFlags: cfg.ManagerFlags, ManagerEnv: cfg.ManagerEnv, Commit: built}

	op := r.startOperator(bin, filepath.Join(r.cluster.LogDir(), "fedcommons.log"), cfg.Workers, cfg.ManagerFlags, cfg.ManagerEnv)
	peak := sampleRSS(ctx, op.metricsURL)
	// The operator is up when it serves metrics (its caches are syncing).
	waitFor(t, 2*time.Minute, "the operator's /metrics", func() error { _, err := scrape(op.metricsURL); return err })

	res.Started, res.LoadStart = time.Now(), loadAvg()
	must(t, rollout(ctx, r.admin, "op", communities, per))
	readyAt, err := waitReady(ctx, r.watching, "op", instances, cfg.readyTimeout(instances))
	must(t, err)
	res.TimeToReadySeconds, res.LoadReady = readyAt.Sub(res.Started).Seconds(), loadAvg()
	procReady, err := readProc(op.cmd.Process.Pid)
	must(t, err)
	res.CPUSecondsRollout = procReady.CPUSeconds
	fams, err := scrape(op.metricsURL)
	must(t, err)
	res.Reconcile = histograms(fams, "controller_runtime_reconcile_time_seconds", "controller")
	res.QueueWait = histograms(fams, "workqueue_queue_duration_seconds", "name")
	t.Logf("all %d Instances Ready in %.1fs; settling %s, then watching the steady state for %s", instances, res.TimeToReadySeconds, cfg.Settle, cfg.Steady)

	time.Sleep(cfg.Settle)
	steadyFrom := time.Now()
	time.Sleep(cfg.Steady)
	steadyTo := time.Now()
	procEnd, err := readProc(op.cmd.Process.Pid)
	must(t, err)
	res.PeakRSSBytes, res.CPUSecondsSteady = procEnd.PeakRSSBytes, procEnd.CPUSeconds-procReady.CPUSeconds
	res.LoadEnd = loadAvg()
	op.stop()
	res.PeakRSSMetricsBytes = peak()

	// The baseline runs with the operator stopped, on fresh namespaces.
	baseFrom := time.Now()
	took, objects, err := runBaseline(ctx, r.cluster.UserConfig(baselineUser), "base", communities, per)
	must(t, err)
	baseTo := time.Now()
	res.BaselineSeconds, res.BaselineObjects = took.Seconds(), objects
	res.BaselineRatio = res.TimeToReadySeconds / res.BaselineSeconds

	// The audit log is written in batches: give it a moment.
	time.Sleep(3 * time.Second)
	audit := r.cluster.AuditLogPath()
	for _, w := range []struct {
		user     string
		from, to time.Time
		into     *requestFigures
		perInst  bool
	}{
		{operatorUser, res.Started, readyAt, &res.Rollout, true},
		{operatorUser, readyAt, steadyFrom, &res.Settle, false},
		{operatorUser, steadyFrom, steadyTo, &res.Steady, false},
		{baselineUser, baseFrom, baseTo, &res.Baseline, true},
	} {
		events, err := readAudit(audit, w.user, w.from, w.to)
		must(t, err)
		n := 0
		if w.perInst {
			n = instances
		}
		*w.into = figures(events, w.to.Sub(w.from), n)
	}
	if res.Steady.Writes > 0 {
		t.Logf("steady-state writes (%d), first ones: %v", res.Steady.Writes, res.Steady.WriteExamples)
	}
	return res
}

// sampleRSS polls the manager's process_resident_memory_bytes every two
// seconds; the returned func stops and gives the highest seen.
func sampleRSS(ctx context.Context, url string) func() float64 {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	peak := 0.0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if fams, err := scrape(url); err == nil {
				if v := gauge(fams, "process_resident_memory_bytes"); !math.IsNaN(v) {
					mu.Lock()
					peak = max(peak, v)
					mu.Unlock()
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
		}
	}()
	return func() float64 {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// commit names the checkout under test ("unknown" outside git), with
// "+dirty" when it has uncommitted changes.
func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += "+dirty"
	}
	return c
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func waitFor(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
