package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The backup gauges hold what the alert "no successful backup in twice
// the schedule's interval" needs (docs/backups.md):
//
//	time() - fedcommons_instance_backup_last_success_timestamp_seconds
//	  > 2 * fedcommons_instance_backup_interval_seconds
//
// Both exist only while an Instance has spec.backup.
var (
	backupLastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fedcommons_instance_backup_last_success_timestamp_seconds",
		Help: "When an Instance's last successful backup finished (Unix time); before the first one, when its backups were scheduled. Alert on its age.",
	}, []string{"namespace", "instance"})
	backupInterval = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fedcommons_instance_backup_interval_seconds",
		Help: "The longest time between two runs of an Instance's backup schedule (spec.backup.schedule).",
	}, []string{"namespace", "instance"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(backupLastSuccess, backupInterval)
}

// RecordBackups sets an Instance's backup gauges: the time of its last
// successful backup (or when backups were scheduled, before the first),
// and its schedule's longest interval.
func RecordBackups(namespace, instance string, lastSuccess time.Time, interval time.Duration) {
	backupLastSuccess.WithLabelValues(namespace, instance).Set(float64(lastSuccess.Unix()))
	backupInterval.WithLabelValues(namespace, instance).Set(interval.Seconds())
}

// ForgetBackups removes an Instance's backup series: spec.backup was
// removed, or the Instance is gone.
func ForgetBackups(namespace, instance string) {
	labels := prometheus.Labels{"namespace": namespace, "instance": instance}
	backupLastSuccess.DeletePartialMatch(labels)
	backupInterval.DeletePartialMatch(labels)
}
