package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/backup"
)

// spec.restore: the restore Job before the first rollout (backup_test.go
// has the helpers that play the kubelet and the Job controller).
var _ = Describe("Restore", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		createClusterIssuer("letsencrypt")
	})

	It("restores spec.restore once the database runs, and starts no server before the restore succeeded", func() {
		createSecret(ns, "riverside-smtp", map[string]string{"username": "u", "password": "p"})
		inst := loadSample("fedcommons_v1alpha1_instance_mastodon.yaml", ns)
		inst.Spec.Admin = nil
		inst.Spec.Restore = &v1alpha1.RestoreSpec{From: v1alpha1.BackupLocation{
			PVC: &v1alpha1.BackupPVC{ClaimName: "backups", SubPath: "old-toot"}, Name: "20261202T030000Z"}}
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())

		By("the database first, and the restore only once it answers")
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-postgres"}, &appsv1.StatefulSet{})
		}).WithTimeout(30 * time.Second).Should(Succeed())
		waiting := eventuallyCondition(ns, "toot", v1alpha1.ConditionReconciling, metav1.ConditionTrue, "Progressing")
		Expect(waiting.Message).To(ContainSubstring("Restore of pvc://backups/old-toot/20261202T030000Z: waiting for the database"))
		Expect(jobNames(ns, "toot")).To(BeEmpty())
		readyStatefulSets(ns, "toot")
		Eventually(func() []string { return jobNames(ns, "toot") }).WithTimeout(30 * time.Second).Should(ConsistOf("toot-restore"))
		job := &batchv1.Job{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-restore"}, job)).To(Succeed())
		Expect(job.Spec.Template.Spec.Containers[0].Command).To(Equal([]string{"/bin/sh", "-c", backup.RestoreScript()}))
		name, _ := envValue(job.Spec.Template.Spec.Containers[0], "BACKUP_NAME")
		Expect(name).To(Equal("20261202T030000Z"))
		Consistently(func(g Gomega) {
			list := &appsv1.DeploymentList{}
			g.Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
			g.Expect(list.Items).To(BeEmpty(), "no server before the restore succeeded")
			g.Expect(jobNames(ns, "toot")).To(ConsistOf("toot-restore"), "nor the install's prepare Job")
		}).WithTimeout(2 * time.Second).Should(Succeed())
		Expect(getInstance(ns, "toot").Status.Upgrade).To(HaveField("Phase", "Restore"))

		By("once restored: recorded in status, and the install goes on")
		terminatePod(job, 0, `{"name": "20261202T030000Z", "version": "4.5.2"}`)
		finishJob(ns, "toot-restore", true)
		Eventually(func() []string { return jobNames(ns, "toot") }).WithTimeout(30 * time.Second).Should(ContainElement("toot-prepare-4-5-2"))
		Eventually(func() *v1alpha1.RestoreStatus { return getInstance(ns, "toot").Status.Restore }).WithTimeout(10 * time.Second).
			Should(And(Not(BeNil()), HaveField("Location", "pvc://backups/old-toot/20261202T030000Z"), HaveField("Name", "20261202T030000Z"), HaveField("CompletionTime", Not(BeNil()))))
		Eventually(hasEvent(ns, "Instance", "toot", "Normal Restored: Restored pvc://backups/old-toot/20261202T030000Z")).WithTimeout(10 * time.Second).Should(BeTrue())
		finishJob(ns, "toot-prepare-4-5-2", true)
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-web"}, &appsv1.Deployment{})
		}).WithTimeout(30 * time.Second).Should(Succeed())

		By("the restore never runs again, even if its Job goes")
		Expect(k8sClient.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
		keepRollingOut(ns, "toot")
		Eventually(func() string { return getInstance(ns, "toot").Status.Version }).WithTimeout(30 * time.Second).Should(Equal("4.5.2"))
		Consistently(func() []string { return jobNames(ns, "toot") }).WithTimeout(2 * time.Second).ShouldNot(ContainElement("toot-restore"))
	})

	It("stops with the backup and the Job's logs named when a restore fails", func() {
		inst := loadSample("fedcommons_v1alpha1_instance_gotosocial.yaml", ns)
		inst.Spec.Admin = nil
		inst.Spec.Restore = &v1alpha1.RestoreSpec{From: v1alpha1.BackupLocation{
			PVC: &v1alpha1.BackupPVC{ClaimName: "backups"}, Name: "20261202T030000Z"}}
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		// SQLite: the database is a file, ready at once.
		Eventually(func() []string { return jobNames(ns, "social") }).WithTimeout(30 * time.Second).Should(ConsistOf("social-restore"))
		job := &batchv1.Job{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-restore"}, job)).To(Succeed())
		Expect(job.Spec.Template.Spec.Volumes).To(ContainElement(HaveField("VolumeSource.PersistentVolumeClaim.ClaimName", "social-data")))
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-data"}, &corev1.PersistentVolumeClaim{})).To(Succeed())
		finishJob(ns, "social-restore", false)
		stalled := eventuallyCondition(ns, "social", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonRestoreFailed)
		Expect(stalled.Message).To(ContainSubstring("Restore of pvc://backups/social/20261202T030000Z failed (BackoffLimitExceeded: Job has reached the specified backoff limit), and the server was not started"))
		Expect(stalled.Message).To(ContainSubstring("kubectl logs -n " + ns + " job/social-restore"))
		Consistently(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-web"}, &appsv1.Deployment{}))
		}).WithTimeout(2 * time.Second).Should(BeTrue())
		Expect(getInstance(ns, "social").Status.Restore).To(BeNil())
	})
})
