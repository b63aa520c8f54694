//go:build scale

package scale

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

func init() {
	sections["rollout"] = section{title: "Rollout and steady state", order: 1, render: renderRollout}
}

// rolloutRow is the median of a label's runs at one size.
type rolloutRow struct {
	label, commits                                     string
	instances, runs                                    int
	ready, baseline, ratio, perInstance                float64
	steadyWrites, settleWrites, readsPerMin            float64
	rssMiB, rssMetricsMiB, cpuRollout, cpuSteady, load float64
	reconcile, queue                                   map[string][2]float64 // controller → p50, p99 (medians)
	topVerbs                                           []requestCount        // of the first run
	steadyExamples                                     []string
}

func renderRollout(dir string, raw [][]byte) (string, error) {
	groups := map[string][]rolloutResult{}
	for _, data := range raw {
		var r rolloutResult
		if err := json.Unmarshal(data, &r); err != nil {
			return "", err
		}
		key := fmt.Sprintf("%s\x00%08d", r.Label, r.Instances)
		groups[key] = append(groups[key], r)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var rows []rolloutRow
	for _, k := range keys {
		rows = append(rows, medianRow(groups[k]))
	}
	var b strings.Builder
	first := groups[keys[0]][0]
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), %d MiB. Each figure is the median of the runs shown; load is the 1-minute load average when all was Ready.\n\n",
		first.Machine.CPUs, first.Machine.CPUModel, first.Machine.MemMiB)
	b.WriteString("| variant | commit | Instances | runs | time to Ready (s) | baseline (s) | ratio | API requests / Instance | steady writes | settle writes | steady reads / min | peak RSS (MiB) | CPU s rollout | CPU s steady | load |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %.1f | %.1f | %.2f× | %.1f | %.0f | %.0f | %.1f | %.0f | %.1f | %.1f | %.1f |\n",
			r.label, r.commits, r.instances, r.runs, r.ready, r.baseline, r.ratio, r.perInstance, r.steadyWrites, r.settleWrites,
			r.readsPerMin, r.rssMiB, r.cpuRollout, r.cpuSteady, r.load)
	}
	b.WriteString("\nReconcile time p50 / p99 and workqueue wait p99 per controller (seconds, over the rollout):\n\n")
	b.WriteString("| variant | Instances | controller | reconcile p50 | reconcile p99 | queue wait p99 |\n|---|---:|---|---:|---:|---:|\n")
	for _, r := range rows {
		names := make([]string, 0, len(r.reconcile))
		for n := range r.reconcile {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(&b, "| %s | %d | %s | %.3f | %.3f | %.3f |\n", r.label, r.instances, n, r.reconcile[n][0], r.reconcile[n][1], r.queue[n][1])
		}
	}
	b.WriteString("\nThe operator's requests during the rollout, by verb and resource (first run of each size, per Instance):\n\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "- %s, %d Instances: ", r.label, r.instances)
		var parts []string
		for i, c := range r.topVerbs {
			if i == 12 {
				break
			}
			parts = append(parts, fmt.Sprintf("%s %s %.2f", c.Verb, c.Resource, float64(c.Count)/float64(r.instances)))
		}
		b.WriteString(strings.Join(parts, ", ") + "\n")
		if len(r.steadyExamples) > 0 {
			fmt.Fprintf(&b, "  - steady-state writes seen: %s\n", strings.Join(r.steadyExamples, "; "))
		}
	}
	plot, err := plotRollout(dir, rows)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "\n![time to Ready and peak RSS against Instance count](%s)\n", plot)
	return b.String(), nil
}

func medianRow(runs []rolloutResult) rolloutRow {
	pick := func(f func(rolloutResult) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return median(xs)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Run < runs[j].Run })
	row := rolloutRow{
		label: runs[0].Label, instances: runs[0].Instances, runs: len(runs),
		ready:         pick(func(r rolloutResult) float64 { return r.TimeToReadySeconds }),
		baseline:      pick(func(r rolloutResult) float64 { return r.BaselineSeconds }),
		ratio:         pick(func(r rolloutResult) float64 { return r.BaselineRatio }),
		perInstance:   pick(func(r rolloutResult) float64 { return r.Rollout.PerInstance }),
		steadyWrites:  pick(func(r rolloutResult) float64 { return float64(r.Steady.Writes) }),
		settleWrites:  pick(func(r rolloutResult) float64 { return float64(r.Settle.Writes) }),
		readsPerMin:   pick(func(r rolloutResult) float64 { return r.Steady.ReadsPerMin }),
		rssMiB:        pick(func(r rolloutResult) float64 { return float64(r.PeakRSSBytes) / (1 << 20) }),
		rssMetricsMiB: pick(func(r rolloutResult) float64 { return r.PeakRSSMetricsBytes / (1 << 20) }),
		cpuRollout:    pick(func(r rolloutResult) float64 { return r.CPUSecondsRollout }),
		cpuSteady:     pick(func(r rolloutResult) float64 { return r.CPUSecondsSteady }),
		load:          pick(func(r rolloutResult) float64 { return r.LoadReady }),
		reconcile:     map[string][2]float64{}, queue: map[string][2]float64{},
		topVerbs: runs[0].Rollout.ByVerb,
	}
	var commits []string
	for _, r := range runs {
		row.steadyExamples = append(row.steadyExamples, r.Steady.WriteExamples...)
		if r.Commit != "" && !slices.Contains(commits, r.Commit) {
			commits = append(commits, r.Commit)
		}
	}
	row.commits = strings.Join(commits, ", ")
	if len(row.steadyExamples) > 10 {
		row.steadyExamples = row.steadyExamples[:10]
	}
	for _, m := range []struct {
		get  func(rolloutResult) []latency
		into map[string][2]float64
	}{{func(r rolloutResult) []latency { return r.Reconcile }, row.reconcile}, {func(r rolloutResult) []latency { return r.QueueWait }, row.queue}} {
		p50s, p99s := map[string][]float64{}, map[string][]float64{}
		for _, r := range runs {
			for _, l := range m.get(r) {
				p50s[l.Name] = append(p50s[l.Name], l.P50)
				p99s[l.Name] = append(p99s[l.Name], l.P99)
			}
		}
		for n := range p50s {
			m.into[n] = [2]float64{median(p50s[n]), median(p99s[n])}
		}
	}
	return row
}
