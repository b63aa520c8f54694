//go:build scale

package scale

import (
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Where a run's time goes, from the operator's own metrics (the manager
// runs in this process, so its registry is read directly): how long
// Instance reconciles took and how long they waited in the queue.

// propHist is the count and sum of one histogram.
type propHist struct{ count, sum float64 }

// propInstanceMetrics reads the Instance controller's reconcile time and
// queue wait histograms.
func propInstanceMetrics() (reconcile, wait propHist) {
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		return
	}
	for _, f := range families {
		var into *propHist
		switch f.GetName() {
		case "controller_runtime_reconcile_time_seconds":
			into = &reconcile
		case "workqueue_queue_duration_seconds":
			into = &wait
		default:
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if (l.GetName() == "controller" || l.GetName() == "name") && l.GetValue() == "instance" {
					into.count += float64(m.GetHistogram().GetSampleCount())
					into.sum += m.GetHistogram().GetSampleSum()
				}
			}
		}
	}
	return
}

// meanMsSince is the mean in milliseconds of what was observed since before.
func (h propHist) meanMsSince(before propHist) float64 {
	n := h.count - before.count
	if n <= 0 {
		return 0
	}
	return (h.sum - before.sum) / n * 1000
}
