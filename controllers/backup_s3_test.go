package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/backup"
	"github.com/fedcommons/fedcommons/internal/resources"
)

// testAgentImage is the operator image the suite's operator is given
// (controllers.Options.AgentImage): the s3 Jobs run the agent from it.
const testAgentImage = "registry.test/fedcommons:s3-wire"

func s3Destination() v1alpha1.BackupDestination {
	return v1alpha1.BackupDestination{S3: &v1alpha1.BackupS3{Endpoint: "https://s3.example.org", Bucket: "coop-backups", Prefix: "riverside",
		CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: "backup-s3"}}}
}

// failInitContainer plays the kubelet for an s3 backup whose dump failed:
// the init container "dump" ended with its log's tail as its termination
// message, and the agent ("backup") never ran.
func failInitContainer(job *batchv1.Job, message string) {
	GinkgoHelper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: job.Namespace, Name: job.Name + "-" + rand.String(5),
			Labels: map[string]string{batchv1.JobNameLabel: job.Name, batchv1.ControllerUidLabel: string(job.UID)}},
		Spec: *job.Spec.Template.Spec.DeepCopy(),
	}
	Expect(k8sClient.Create(ctx, pod)).To(Succeed())
	now := metav1.Now()
	pod.Status.Phase = corev1.PodFailed
	pod.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "dump", Image: pod.Spec.InitContainers[0].Image,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: message, StartedAt: now, FinishedAt: now}}}}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "backup", Image: pod.Spec.Containers[0].Image,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}}
	Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
}

var _ = Describe("Backups to S3", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		createClusterIssuer("letsencrypt")
	})

	It("schedules the backup agent from the operator's image, with a backup key made once, and reads what the agent and the dump say", func() {
		createSecret(ns, "backup-s3", map[string]string{"accessKeyID": "AK", "secretAccessKey": "SK"})
		inst := loadSample("fedcommons_v1alpha1_instance_gotosocial.yaml", ns)
		inst.Spec.Admin = nil
		inst.Spec.Backup = &v1alpha1.BackupSpec{Schedule: "0 3 * * *", Destination: s3Destination()}
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		keepRollingOut(ns, "social")
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-bkup"}, &batchv1.CronJob{})
		}).WithTimeout(30*time.Second).Should(Succeed(), "an s3 destination is scheduled, not BackupNotScheduled")
		eventuallyCondition(ns, "social", v1alpha1.ConditionBackupHealthy, metav1.ConditionTrue, v1alpha1.ReasonBackupPending)

		cj := cronJob(ns, "social-bkup")
		pod := cj.Spec.JobTemplate.Spec.Template.Spec
		Expect(pod.Containers).To(HaveLen(1))
		Expect(pod.Containers[0].Name).To(Equal("backup"))
		Expect(pod.Containers[0].Image).To(Equal(testAgentImage))
		Expect(pod.Containers[0].Command).To(Equal([]string{backup.AgentBinary, "backup-agent", "upload"}))
		Expect(pod.InitContainers).To(ContainElement(And(HaveField("Name", "dump"), HaveField("Command", []string{"/bin/sh", "-c", backup.BackupScript()}))))
		_, rcpt := envValue(pod.Containers[0], "BACKUP_KEY_RECIPIENT")
		Expect(rcpt).To(HaveField("SecretKeyRef.Name", "social-backup-key"))

		By("the key Secret: an age key, not owned by the Instance")
		key := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-backup-key"}, key)).To(Succeed())
		Expect(key.OwnerReferences).To(BeEmpty(), "it must outlive the Instance")
		Expect(string(key.Data[backup.KeyIdentity])).To(HavePrefix("AGE-SECRET-KEY-1"))
		Expect(string(key.Data[backup.KeyRecipient])).To(HavePrefix("age1"))

		By("a backup the agent reports, then a dump that fails before the agent runs")
		job := runScheduledBackup(ns, cj, "1")
		terminatePod(job, 0, `{"name": "20261202T030000Z", "size": 2048}`)
		finishJob(ns, job.Name, true)
		Eventually(func() string {
			if st := getInstance(ns, "social").Status.Backup; st != nil {
				return st.Location
			}
			return ""
		}).WithTimeout(30 * time.Second).Should(Equal("s3://coop-backups/riverside/20261202T030000Z"))
		failed := runScheduledBackup(ns, cj, "2")
		failInitContainer(failed, "sqlite3: database is locked\nbackup: dump failed")
		finishJob(ns, failed.Name, false)
		// status, not the condition: both Jobs end within the same second.
		Eventually(func() string {
			if st := getInstance(ns, "social").Status.Backup; st != nil {
				return st.LastFailure
			}
			return ""
		}).WithTimeout(30 * time.Second).Should(ContainSubstring("its log ends: sqlite3: database is locked / backup: dump failed"))

		By("passes after that never touch the key")
		Consistently(func(g Gomega) {
			again := &corev1.Secret{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(key), again)).To(Succeed())
			g.Expect(again.UID).To(Equal(key.UID))
			g.Expect(again.ResourceVersion).To(Equal(key.ResourceVersion))
			g.Expect(again.Data).To(Equal(key.Data))
		}).WithTimeout(3 * time.Second).Should(Succeed())
	})
})

var _ = Describe("Restore of an S3 backup's Secrets", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		createClusterIssuer("letsencrypt")
	})

	It("runs the restore as its own ServiceAccount and generates no carried Secret before the restore put the old ones back", func() {
		createSecret(ns, "backup-s3", map[string]string{"accessKeyID": "AK", "secretAccessKey": "SK"})
		createSecret(ns, "old-key", map[string]string{backup.KeyIdentity: "AGE-SECRET-KEY-1TEST"})
		createSecret(ns, "riverside-smtp", map[string]string{"username": "u", "password": "p"})
		inst := loadSample("fedcommons_v1alpha1_instance_mastodon.yaml", ns)
		inst.Spec.Admin = nil
		d := s3Destination()
		inst.Spec.Restore = &v1alpha1.RestoreSpec{From: v1alpha1.BackupLocation{S3: d.S3, Name: "20261202T030000Z"},
			IdentitySecretRef: &v1alpha1.LocalSecretReference{Name: "old-key"}}
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-postgres"}, &appsv1.StatefulSet{})
		}).WithTimeout(30 * time.Second).Should(Succeed())
		readyStatefulSets(ns, "toot")
		Eventually(func() []string { return jobNames(ns, "toot") }).WithTimeout(30 * time.Second).Should(ConsistOf("toot-restore"))
		job := &batchv1.Job{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-restore"}, job)).To(Succeed())
		Expect(job.Spec.Template.Spec.ServiceAccountName).To(Equal("toot-restore"))

		By("the ServiceAccount, Role and RoleBinding, owned by the Instance")
		live := getInstance(ns, "toot")
		role := &rbacv1.Role{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-restore"}, role)).To(Succeed())
		Expect(metav1.IsControlledBy(role, live)).To(BeTrue())
		Expect(role.Rules).To(ContainElement(And(HaveField("Verbs", []string{"get"}), HaveField("ResourceNames", resources.CarriedSecretNames("toot")))))
		binding := &rbacv1.RoleBinding{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-restore"}, binding)).To(Succeed())
		Expect(binding.Subjects).To(ConsistOf(HaveField("Name", "toot-restore")))
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-restore"}, &corev1.ServiceAccount{})).To(Succeed())

		By("no carried Secret while the restore runs; the database's password is there, or the database could not start for the restore")
		Consistently(func(g Gomega) {
			for _, name := range resources.CarriedSecretNames("toot") {
				err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &corev1.Secret{})
				g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "Secret %s generated before the restore", name)
			}
		}).WithTimeout(3 * time.Second).Should(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-postgres"}, &corev1.Secret{})).To(Succeed())
		Expect(getInstance(ns, "toot").Status.GeneratedSecrets).NotTo(ContainElement("toot-secrets"))

		By("the agent puts the old Secrets back; the operator adopts them as they are, and generates only what the backup lacked")
		restored := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "toot-secrets"},
			Data: map[string][]byte{"SECRET_KEY_BASE": []byte("from the backup")}}
		Expect(k8sClient.Create(ctx, restored)).To(Succeed())
		terminatePod(job, 0, "")
		finishJob(ns, "toot-restore", true)
		Eventually(func() []string { return getInstance(ns, "toot").Status.GeneratedSecrets }).WithTimeout(30 * time.Second).
			Should(ContainElements("toot-secrets", "toot-postgres"))
		after := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(restored), after)).To(Succeed())
		Expect(after.Data).To(Equal(restored.Data), "kept, not regenerated")

		By("the restore's Role grants nothing once the restore is done: its token outlives the pod")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(role), role)).To(Succeed())
			g.Expect(role.Rules).To(BeEmpty())
		}).WithTimeout(30 * time.Second).Should(Succeed())
	})
})
