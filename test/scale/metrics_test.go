//go:build scale

package scale

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The manager's own figures: its /metrics (controller-runtime's reconcile
// and workqueue histograms, the process collector) and /proc.

// scrape reads the manager's /metrics.
func scrape(url string) (map[string]*dto.MetricFamily, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(io.LimitReader(resp.Body, 64<<20))
}

func gauge(fams map[string]*dto.MetricFamily, name string) float64 {
	f := fams[name]
	if f == nil || len(f.Metric) == 0 {
		return math.NaN()
	}
	m := f.Metric[0]
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	return math.NaN()
}

// latency is one controller's (or queue's) distribution, in seconds.
type latency struct {
	Name  string  `json:"name"`
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
}

// histograms returns, per value of label, the p50 and p99 of the
// histogram family name (interpolated within buckets, as PromQL's
// histogram_quantile does).
func histograms(fams map[string]*dto.MetricFamily, name, label string) []latency {
	f := fams[name]
	if f == nil {
		return nil
	}
	var out []latency
	for _, m := range f.Metric {
		h := m.GetHistogram()
		if h == nil || h.GetSampleCount() == 0 {
			continue
		}
		l := latency{Count: h.GetSampleCount(), P50: quantile(h, 0.5), P99: quantile(h, 0.99)}
		for _, lp := range m.Label {
			if lp.GetName() == label {
				l.Name = lp.GetValue()
			}
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func quantile(h *dto.Histogram, q float64) float64 {
	total := float64(h.GetSampleCount())
	rank := q * total
	prevBound, prevCount := 0.0, 0.0
	for _, b := range h.Bucket {
		count := float64(b.GetCumulativeCount())
		if count >= rank {
			if math.IsInf(b.GetUpperBound(), 1) {
				return prevBound
			}
			if count == prevCount {
				return b.GetUpperBound()
			}
			return prevBound + (b.GetUpperBound()-prevBound)*(rank-prevCount)/(count-prevCount)
		}
		prevBound, prevCount = b.GetUpperBound(), count
	}
	return prevBound
}

// procStats are the kernel's figures for a process: peak resident memory
// (VmHWM) and CPU seconds (user + system).
type procStats struct {
	PeakRSSBytes int64
	CPUSeconds   float64
}

func readProc(pid int) (procStats, error) {
	var s procStats
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return s, fmt.Errorf("VmHWM %q: %w", rest, err)
			}
			s.PeakRSSBytes = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name (field 2) may hold spaces; fields count from after
	// its closing parenthesis: utime and stime are fields 14 and 15.
	_, after, ok := strings.Cut(string(stat), ") ")
	f := strings.Fields(after)
	if !ok || len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: unexpected %q", pid, stat)
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	// USER_HZ is 100 on Linux for every architecture Go supports.
	s.CPUSeconds = (utime + stime) / 100
	return s, nil
}

// loadAvg is the machine's 1-minute load average (the machine is shared:
// every figure carries it).
func loadAvg() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return math.NaN()
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return math.NaN()
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
