package controllers_test

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/backup"
)

// Scheduled backups, the backup before an upgrade and the restore before
// the first rollout, against the real API server. Nothing runs the Jobs:
// the test plays the CronJob controller (a Job from the template), the
// kubelet (the pod's termination message) and the Job controller
// (Complete or Failed), writing what each of them writes.

func pvcBackup(schedule string) *v1alpha1.BackupSpec {
	return &v1alpha1.BackupSpec{Schedule: schedule, Destination: v1alpha1.BackupDestination{PVC: &v1alpha1.BackupPVC{ClaimName: "backups"}}}
}

// runScheduledBackup plays the CronJob controller creating a Job from the
// CronJob's template (owned by the CronJob, as it does) and its pod.
func runScheduledBackup(ns string, cj *batchv1.CronJob, suffix string) *batchv1.Job {
	GinkgoHelper()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: cj.Name + "-" + suffix,
			Labels:          cj.Spec.JobTemplate.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))},
		},
		Spec: *cj.Spec.JobTemplate.Spec.DeepCopy(),
	}
	Expect(k8sClient.Create(ctx, job)).To(Succeed())
	return job
}

// terminatePod plays the Job controller's pod and the kubelet: the
// container ended, with message as its termination message (what the
// script wrote to /dev/termination-log, or the log's tail on error).
func terminatePod(job *batchv1.Job, exitCode int32, message string) {
	GinkgoHelper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: job.Namespace, Name: job.Name + "-" + rand.String(5),
			Labels: map[string]string{batchv1.JobNameLabel: job.Name, batchv1.ControllerUidLabel: string(job.UID)}},
		Spec: *job.Spec.Template.Spec.DeepCopy(),
	}
	Expect(k8sClient.Create(ctx, pod)).To(Succeed())
	now := metav1.Now()
	pod.Status.Phase = corev1.PodSucceeded
	if exitCode != 0 {
		pod.Status.Phase = corev1.PodFailed
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: job.Spec.Template.Spec.Containers[0].Name, Image: job.Spec.Template.Spec.Containers[0].Image,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode, Message: message, StartedAt: now, FinishedAt: now}},
	}}
	Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
}

func cronJob(ns, name string) *batchv1.CronJob {
	GinkgoHelper()
	cj := &batchv1.CronJob{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cj)).To(Succeed())
	return cj
}

func hasEvent(ns, kind, name, fragment string) func(Gomega) bool {
	return func(g Gomega) bool {
		for _, e := range eventsAbout(g, ns, kind, name) {
			if strings.Contains(e, fragment) {
				return true
			}
		}
		return false
	}
}

var _ = Describe("Backups", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		createClusterIssuer("letsencrypt")
	})

	It("schedules backups once the server is installed, reports each one and removes the CronJob with spec.backup", func() {
		inst := loadSample("fedcommons_v1alpha1_instance_gotosocial.yaml", ns)
		inst.Spec.Admin = nil
		inst.Spec.Backup = pvcBackup("0 3 * * *")
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-web"}, &appsv1.Deployment{})
		}).WithTimeout(30 * time.Second).Should(Succeed())
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-bkup"}, &batchv1.CronJob{}))).To(BeTrue(),
			"nothing to back up before the server is installed")

		keepRollingOut(ns, "social")
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-bkup"}, &batchv1.CronJob{})
		}).WithTimeout(30 * time.Second).Should(Succeed())
		cj := cronJob(ns, "social-bkup")
		live := getInstance(ns, "social")
		Expect(metav1.IsControlledBy(cj, live)).To(BeTrue())
		Expect(cj.Spec.Schedule).To(Equal("0 3 * * *"))
		Expect(*cj.Spec.TimeZone).To(Equal("Etc/UTC"))
		Expect(cj.Spec.ConcurrencyPolicy).To(Equal(batchv1.ForbidConcurrent))
		c := cj.Spec.JobTemplate.Spec.Template.Spec.InitContainers[0]
		Expect(c.Command).To(Equal([]string{"/bin/sh", "-c", backup.BackupScript()}), "the Job runs the tested script")
		seal := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
		Expect(seal.Command).To(Equal([]string{backup.AgentBinary, "backup-agent", "seal"}), "then the agent adds the Secrets to the backup")
		Expect(seal.Image).To(Equal(testAgentImage))
		key := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-backup-key"}, key)).To(Succeed(),
			"the key the Secrets are encrypted to exists before the CronJob")
		Expect(key.Data).To(HaveKey(backup.KeyRecipient))
		Expect(c.Image).To(Equal(backup.SQLiteImage))
		root, _ := envValue(c, "BACKUP_ROOT")
		Expect(root).To(Equal("/backup/social"))
		Expect(cj.Spec.JobTemplate.Spec.Template.Spec.Volumes).To(ContainElement(HaveField("VolumeSource.PersistentVolumeClaim.ClaimName", "backups")))

		By("status says when the next backup is due, and the alert's gauges exist from the start")
		next := time.Now().UTC().Truncate(24 * time.Hour).Add(3 * time.Hour)
		if !next.After(time.Now()) {
			next = next.Add(24 * time.Hour)
		}
		Eventually(func() *metav1.Time {
			if st := getInstance(ns, "social").Status.Backup; st != nil {
				return st.NextScheduleTime
			}
			return nil
		}).WithTimeout(30 * time.Second).Should(HaveField("Time", BeTemporally("==", next)))
		eventuallyCondition(ns, "social", v1alpha1.ConditionBackupHealthy, metav1.ConditionTrue, v1alpha1.ReasonBackupPending)
		labels := map[string]string{"namespace": ns, "instance": "social"}
		Expect(value("fedcommons_instance_backup_interval_seconds", labels)).To(Equal(86400.0))
		Expect(value("fedcommons_instance_backup_last_success_timestamp_seconds", labels)).To(Equal(float64(cj.CreationTimestamp.Unix())),
			"before the first backup, the alert counts from when backups were scheduled")

		By("a scheduled backup completes: its name and size come from the pod's termination message")
		job := runScheduledBackup(ns, cj, "29411460")
		terminatePod(job, 0, `{"name": "20261202T030000Z", "size": 1572864}`+"\n")
		finishJob(ns, job.Name, true)
		var st *v1alpha1.BackupStatus
		Eventually(func(g Gomega) {
			st = getInstance(ns, "social").Status.Backup
			g.Expect(st).NotTo(BeNil())
			g.Expect(st.LastName).To(Equal("20261202T030000Z"))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		Expect(st.LastSize).To(Equal(int64(1572864)))
		Expect(st.Location).To(Equal("pvc://backups/social/20261202T030000Z"))
		Expect(st.LastSuccessfulTime).NotTo(BeNil())
		healthy := eventuallyCondition(ns, "social", v1alpha1.ConditionBackupHealthy, metav1.ConditionTrue, v1alpha1.ReasonBackupSucceeded)
		Expect(healthy.Message).To(ContainSubstring("backed up to pvc://backups/social/20261202T030000Z (1.5 MiB)"))
		Eventually(hasEvent(ns, "Instance", "social", "Normal BackupCompleted: Backup backed up to pvc://backups/social/20261202T030000Z")).
			WithTimeout(10 * time.Second).Should(BeTrue())
		// One backup, one Event: not one per pass that saw it before the
		// status saying so reached the cache (issue 15's (x2)).
		Consistently(func(g Gomega) []string {
			var out []string
			for _, e := range eventsAbout(g, ns, "Instance", "social") {
				if strings.Contains(e, "BackupCompleted") {
					out = append(out, e)
				}
			}
			return out
		}).WithTimeout(2 * time.Second).Should(ConsistOf(Not(ContainSubstring("(x"))))
		Eventually(func() float64 { return value("fedcommons_instance_backup_last_success_timestamp_seconds", labels) }).
			WithTimeout(10 * time.Second).Should(Equal(float64(st.LastSuccessfulTime.Unix())))

		By("a failed backup: Warning Event, BackupHealthy False, and Ready says so")
		issueCertificate(ns, "social-tls")
		// Job times have one-second resolution: the next run ends at
		// least a second later, as any two runs of a CronJob do.
		time.Sleep(1100 * time.Millisecond)
		failed := runScheduledBackup(ns, cj, "29412900")
		terminatePod(failed, 1, "backup: dumping\nbackup: no SQLite database at /gotosocial/storage/sqlite.db\n")
		finishJob(ns, failed.Name, false)
		cond := eventuallyCondition(ns, "social", v1alpha1.ConditionBackupHealthy, metav1.ConditionFalse, v1alpha1.ReasonBackupFailed)
		Expect(cond.Message).To(ContainSubstring("no SQLite database at /gotosocial/storage/sqlite.db"))
		Expect(cond.Message).To(ContainSubstring("the last good one is pvc://backups/social/20261202T030000Z"))
		Eventually(hasEvent(ns, "Instance", "social", "Warning BackupFailed: Job "+ns+"/"+failed.Name+" failed")).WithTimeout(10 * time.Second).Should(BeTrue())
		Eventually(func(g Gomega) {
			ready := meta.FindStatusCondition(getInstance(ns, "social").Status.Conditions, v1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Message).To(ContainSubstring("backups failing: the last backup failed"))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		Expect(getInstance(ns, "social").Status.Backup.LastName).To(Equal("20261202T030000Z"), "a failure keeps the last good backup")

		By("spec.backup removed: the CronJob goes, the last backup's place stays in status")
		live = getInstance(ns, "social")
		base := live.DeepCopy()
		live.Spec.Backup = nil
		Expect(k8sClient.Patch(ctx, live, client.MergeFrom(base))).To(Succeed())
		Eventually(func() bool {
			err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-bkup"}, &batchv1.CronJob{})
			return apierrors.IsNotFound(err)
		}).WithTimeout(30 * time.Second).Should(BeTrue())
		Eventually(func() *metav1.Condition {
			return meta.FindStatusCondition(getInstance(ns, "social").Status.Conditions, v1alpha1.ConditionBackupHealthy)
		}).WithTimeout(10 * time.Second).Should(BeNil())
		Expect(getInstance(ns, "social").Status.Backup.Location).To(Equal("pvc://backups/social/20261202T030000Z"))
		Expect(series("fedcommons_instance_backup_interval_seconds", labels)).To(BeEmpty())
	})

	It("takes a backup before an upgrade, before any migration, and names it when a migration fails", func() {
		createSecret(ns, "riverside-smtp", map[string]string{"username": "u", "password": "p"})
		inst := loadSample("fedcommons_v1alpha1_instance_mastodon.yaml", ns)
		inst.Spec.Admin = nil
		inst.Spec.Backup = pvcBackup("0 3 * * *")
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		Eventually(func() []string { return jobNames(ns, "toot") }).WithTimeout(30 * time.Second).Should(ContainElement("toot-prepare-4-5-2"))
		Expect(jobNames(ns, "toot")).NotTo(ContainElement(HavePrefix("toot-backup")), "no backup before a first install")
		finishJob(ns, "toot-prepare-4-5-2", true)
		keepRollingOut(ns, "toot")
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-postgres"}, &appsv1.StatefulSet{})
		}).WithTimeout(30 * time.Second).Should(Succeed())
		readyStatefulSets(ns, "toot")
		Eventually(func() string { return getInstance(ns, "toot").Status.Version }).WithTimeout(30 * time.Second).Should(Equal("4.5.2"))
		c := cronJob(ns, "toot-bkup").Spec.JobTemplate.Spec.Template.Spec.InitContainers[0]
		Expect(c.Image).To(Equal("docker.io/library/postgres:17-alpine"), "pg_dump of the bundled server's major version")

		By("the upgrade starts with a backup Job, and no migration runs while it has not succeeded")
		live := getInstance(ns, "toot")
		base := live.DeepCopy()
		live.Spec.Version = "4.5.3"
		Expect(k8sClient.Patch(ctx, live, client.MergeFrom(base))).To(Succeed())
		Eventually(func() []string { return jobNames(ns, "toot") }).WithTimeout(30 * time.Second).Should(ContainElement("toot-backup-4-5-3"))
		first := &batchv1.Job{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-backup-4-5-3"}, first)).To(Succeed())
		name := backup.NameOf(first)
		_, err := backup.ParseName(name)
		Expect(err).NotTo(HaveOccurred())
		Expect(first.Spec.Template.Spec.InitContainers[0].Command).To(Equal([]string{"/bin/sh", "-c", backup.BackupScript()}))
		Eventually(func() *v1alpha1.UpgradeStatus { return getInstance(ns, "toot").Status.Upgrade }).WithTimeout(10 * time.Second).
			Should(Equal(&v1alpha1.UpgradeStatus{FromVersion: "4.5.2", ToVersion: "4.5.3", Phase: "Backup", Backup: "pvc://backups/toot/" + name}))
		Consistently(func() []string { return jobNames(ns, "toot") }).WithTimeout(2 * time.Second).ShouldNot(ContainElement(HavePrefix("toot-migrate")))

		By("a failed backup stops the upgrade before anything migrates")
		terminatePod(first, 1, "pg_dump: error: connection to server failed\n")
		finishJob(ns, "toot-backup-4-5-3", false)
		stalled := eventuallyCondition(ns, "toot", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonBackupFailed)
		Expect(stalled.Message).To(ContainSubstring("Backup before the upgrade 4.5.2 → 4.5.3 failed (BackoffLimitExceeded: Job has reached the specified backoff limit): nothing was migrated and 4.5.2 keeps running"))
		Expect(stalled.Message).To(ContainSubstring("kubectl logs -n " + ns + " job/toot-backup-4-5-3"))
		Consistently(func() []string { return jobNames(ns, "toot") }).WithTimeout(2 * time.Second).ShouldNot(ContainElement(HavePrefix("toot-migrate")))
		Expect(container(deployment(ns, "toot-web")).Image).To(HaveSuffix(":v4.5.2"))

		By("deleting the failed Job takes the backup again; once it succeeds the migrations run")
		Expect(k8sClient.Delete(ctx, first, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
		var again *batchv1.Job
		Eventually(func(g Gomega) {
			again = &batchv1.Job{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-backup-4-5-3"}, again)).To(Succeed())
			g.Expect(again.UID).NotTo(Equal(first.UID))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		name = backup.NameOf(again)
		terminatePod(again, 0, fmt.Sprintf(`{"name": "%s", "size": 4096}`, name))
		finishJob(ns, "toot-backup-4-5-3", true)
		Eventually(func() []string { return jobNames(ns, "toot") }).WithTimeout(30 * time.Second).Should(ContainElement("toot-migrate-pre-4-5-3"))
		Eventually(func() string { return getInstance(ns, "toot").Status.Backup.LastName }).WithTimeout(10*time.Second).Should(Equal(name),
			"the backup before the upgrade is a backup like the others")

		By("a failed migration names the backup and how to restore it")
		finishJob(ns, "toot-migrate-pre-4-5-3", false)
		stalled = eventuallyCondition(ns, "toot", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonJobFailed)
		Expect(stalled.Message).To(ContainSubstring("toot-migrate-pre-4-5-3 failed"))
		Expect(stalled.Message).To(ContainSubstring("The backup taken before this upgrade is pvc://backups/toot/" + name))
		Expect(stalled.Message).To(ContainSubstring(`spec.version 4.5.2 and spec.restore {"from":{"pvc":{"claimName":"backups","subPath":"toot"},"name":"` + name + `"}}`))
		Expect(stalled.Message).To(ContainSubstring("docs/backups.md"))
	})
})
