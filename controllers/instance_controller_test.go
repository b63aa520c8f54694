package controllers_test

import (
	"strings"
	"time"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

func getInstance(ns, name string) *v1alpha1.Instance {
	GinkgoHelper()
	inst := &v1alpha1.Instance{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, inst)).To(Succeed())
	return inst
}

// eventuallyCondition waits for a condition with the given status and
// reason, observed at the Instance's current generation.
func eventuallyCondition(ns, name, condType string, status metav1.ConditionStatus, reason string) *metav1.Condition {
	GinkgoHelper()
	var found *metav1.Condition
	Eventually(func(g Gomega) {
		inst := &v1alpha1.Instance{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, inst)).To(Succeed())
		found = meta.FindStatusCondition(inst.Status.Conditions, condType)
		g.Expect(found).NotTo(BeNil(), "no %s condition yet; conditions: %v", condType, inst.Status.Conditions)
		g.Expect(found.Status).To(Equal(status), "%s: %s", found.Reason, found.Message)
		if reason != "" {
			g.Expect(found.Reason).To(Equal(reason), found.Message)
		}
		g.Expect(inst.Status.ObservedGeneration).To(Equal(inst.Generation))
	}).WithTimeout(30 * time.Second).Should(Succeed())
	return found
}

func deployment(ns, name string) *appsv1.Deployment {
	GinkgoHelper()
	d := &appsv1.Deployment{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d)).To(Succeed())
	return d
}

func container(d *appsv1.Deployment) corev1.Container { return d.Spec.Template.Spec.Containers[0] }

func envValue(c corev1.Container, name string) (string, *corev1.EnvVarSource) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, e.ValueFrom
		}
	}
	return "", nil
}

func jobNames(ns, instance string) []string {
	GinkgoHelper()
	list := &batchv1.JobList{}
	Expect(k8sClient.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelInstance: instance})).To(Succeed())
	var names []string
	for _, j := range list.Items {
		names = append(names, j.Name)
	}
	return names
}

var _ = Describe("Instance", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		createClusterIssuer("letsencrypt")
	})

	It("hosts the GoToSocial sample: children built right, status following them, then Ready", func() {
		inst := loadSample("fedcommons_v1alpha1_instance_gotosocial.yaml", ns)
		inst.Spec.Admin = nil
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		eventuallyCondition(ns, "social", v1alpha1.ConditionReconciling, metav1.ConditionTrue, "Progressing")

		var web *appsv1.Deployment
		Eventually(func() error {
			web = &appsv1.Deployment{}
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-web"}, web)
		}).WithTimeout(30 * time.Second).Should(Succeed())
		live := getInstance(ns, "social")
		Expect(metav1.IsControlledBy(web, live)).To(BeTrue())
		Expect(web.Labels).To(HaveKeyWithValue(v1alpha1.LabelManagedBy, "fedcommons"))
		Expect(web.Labels).To(HaveKeyWithValue(v1alpha1.LabelInstance, "social"))
		Expect(*web.Spec.Replicas).To(Equal(int32(1)))
		Expect(web.Spec.Strategy.Type).To(Equal(appsv1.RecreateDeploymentStrategyType), "one RWO volume: never two pods")
		c := container(web)
		Expect(c.Image).To(Equal("docker.io/superseriousbusiness/gotosocial:0.20.1"))
		Expect(c.Ports).To(ContainElement(HaveField("ContainerPort", int32(8080))))
		Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
		Expect(c.LivenessProbe.HTTPGet.Path).To(Equal("/livez"))
		Expect(c.StartupProbe).NotTo(BeNil())
		host, _ := envValue(c, "GTS_HOST")
		Expect(host).To(Equal(string(inst.Spec.Domain)))
		dbType, _ := envValue(c, "GTS_DB_TYPE")
		Expect(dbType).To(Equal("sqlite"))
		Expect(*c.SecurityContext.RunAsNonRoot).To(BeTrue())
		Expect(*c.SecurityContext.AllowPrivilegeEscalation).To(BeFalse())
		Expect(c.SecurityContext.Capabilities.Drop).To(ContainElement(corev1.Capability("ALL")))
		Expect(web.Spec.Template.Spec.SecurityContext.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault))

		pvc := &corev1.PersistentVolumeClaim{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-data"}, pvc)).To(Succeed())
		Expect(pvc.OwnerReferences).To(BeEmpty(), "deletionPolicy Retain: the data volume outlives the Instance")
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-web"}, &corev1.Service{})).To(Succeed())
		ing := &networkingv1.Ingress{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social"}, ing)).To(Succeed())
		Expect(ing.Spec.Rules[0].Host).To(Equal(string(inst.Spec.Domain)))
		cert := &certmanagerv1.Certificate{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: ing.Spec.TLS[0].SecretName}, cert)).To(Succeed())
		Expect(cert.Spec.DNSNames).To(ConsistOf(string(inst.Spec.Domain)))
		Expect(cert.Spec.IssuerRef.Name).To(Equal("letsencrypt"))

		By("status follows the children: workloads, then the certificate")
		eventuallyCondition(ns, "social", v1alpha1.ConditionDatabaseReady, metav1.ConditionTrue, "Ready")
		rollOutDeployments(ns, "social")
		eventuallyCondition(ns, "social", v1alpha1.ConditionWorkloadAvailable, metav1.ConditionTrue, "Available")
		eventuallyCondition(ns, "social", v1alpha1.ConditionCertificateReady, metav1.ConditionFalse, "")
		Expect(getInstance(ns, "social").Status.Version).To(Equal("0.20.1"))
		issueCertificate(ns, cert.Name)
		ready := eventuallyCondition(ns, "social", v1alpha1.ConditionReady, metav1.ConditionTrue, "Reconciled")
		Expect(ready.Message).To(ContainSubstring("gotosocial 0.20.1 serving https://" + string(inst.Spec.Domain)))
		final := getInstance(ns, "social")
		Expect(final.Status.URL).To(Equal("https://" + string(inst.Spec.Domain)))
		Expect(meta.FindStatusCondition(final.Status.Conditions, v1alpha1.ConditionReconciling)).To(BeNil())
		Expect(meta.FindStatusCondition(final.Status.Conditions, v1alpha1.ConditionStalled)).To(BeNil())

		By("once Ready, the Instance costs zero writes")
		ours := func(namespace, _ string) bool { return namespace == ns }
		Eventually(func() int64 {
			start := writes.count(ours)
			time.Sleep(time.Second)
			return writes.count(ours) - start
		}).WithTimeout(30 * time.Second).Should(BeZero())
		start := writes.count(ours)
		// An event on an owned child (a no-op status write by "kubelet")
		// runs a full reconcile pass over an Instance that matches its spec.
		rollOutDeployments(ns, "social")
		Consistently(func() int64 { return writes.count(ours) - start }).WithTimeout(3 * time.Second).Should(BeZero())
	})

	It("hosts the Mastodon sample and walks an upgrade through its migrations in order", func() {
		createSecret(ns, "riverside-smtp", map[string]string{"username": "u", "password": "p"})
		inst := loadSample("fedcommons_v1alpha1_instance_mastodon.yaml", ns)
		inst.Spec.Admin = nil
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())

		By("first install: secrets, database and the prepare Job before any server runs")
		Eventually(func() []string { return jobNames(ns, "toot") }).WithTimeout(30 * time.Second).Should(ContainElement("toot-prepare-4-5-2"))
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-web"}, &appsv1.Deployment{}))).To(BeTrue(),
			"no server runs before the database is prepared")
		secrets := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-secrets"}, secrets)).To(Succeed())
		Expect(secrets.Data).To(HaveKey("SECRET_KEY_BASE"))
		Expect(secrets.Data["SECRET_KEY_BASE"]).To(HaveLen(128))
		Expect(secrets.Data).To(HaveKey("VAPID_PRIVATE_KEY"))
		Expect(*secrets.Immutable).To(BeTrue())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-postgres"}, &appsv1.StatefulSet{})).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-redis"}, &appsv1.StatefulSet{})).To(Succeed())
		// The Job is created before the status that reports it is patched.
		Eventually(func() *v1alpha1.UpgradeStatus { return getInstance(ns, "toot").Status.Upgrade }).WithTimeout(10 * time.Second).
			Should(HaveField("Phase", "Prepare"))

		finishJob(ns, "toot-prepare-4-5-2", true)
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-web"}, &appsv1.Deployment{})
		}).WithTimeout(30 * time.Second).Should(Succeed())
		for _, name := range []string{"toot-web", "toot-streaming", "toot-sidekiq", "toot-scheduler"} {
			Eventually(func() error {
				return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &appsv1.Deployment{})
			}).WithTimeout(30*time.Second).Should(Succeed(), name)
		}
		Expect(*deployment(ns, "toot-scheduler").Spec.Replicas).To(Equal(int32(1)), "one scheduler, always")
		web := container(deployment(ns, "toot-web"))
		Expect(web.Image).To(Equal("ghcr.io/mastodon/mastodon:v4.5.2"))
		Expect(web.ReadinessProbe.HTTPGet.Path).To(Equal("/health"))
		_, keyRef := envValue(web, "SECRET_KEY_BASE")
		Expect(keyRef.SecretKeyRef.Name).To(Equal("toot-secrets"), "secrets by reference, never inline")
		localDomain, _ := envValue(web, "LOCAL_DOMAIN")
		Expect(localDomain).To(Equal(string(inst.Spec.Domain)))
		Expect(container(deployment(ns, "toot-streaming")).Image).To(Equal("ghcr.io/mastodon/mastodon-streaming:v4.5.2"))

		rollOutDeployments(ns, "toot")
		readyStatefulSets(ns, "toot")
		Eventually(func() string { return getInstance(ns, "toot").Status.Version }).WithTimeout(30 * time.Second).Should(Equal("4.5.2"))
		finishRegistrations(ns, "toot", "approval")
		issueCertificate(ns, "toot-tls")
		eventuallyCondition(ns, "toot", v1alpha1.ConditionReady, metav1.ConditionTrue, "Reconciled")
		before := secrets.DeepCopy()

		By("each generated Secret announced once, however many passes saw it (issue 15: SecretGenerated (x2))")
		generatedEvents := func(g Gomega) []string {
			var out []string
			for _, e := range eventsAbout(g, ns, "Instance", "toot") {
				if strings.Contains(e, " SecretGenerated: ") {
					out = append(out, e)
				}
			}
			return out
		}
		// Seen failing before the Secret was the Events' related object:
		// [Normal SecretGenerated: Generated Secret toot-secrets (x2)], the
		// events API folding the three into one series.
		Eventually(generatedEvents).WithTimeout(10 * time.Second).Should(ConsistOf(
			"Normal SecretGenerated: Generated Secret toot-secrets",
			"Normal SecretGenerated: Generated Secret toot-postgres",
			"Normal SecretGenerated: Generated Secret toot-redis"))

		By("an upgrade: pre-deploy migration while the old version runs")
		live := getInstance(ns, "toot")
		base := live.DeepCopy()
		live.Spec.Version = "4.5.3"
		Expect(k8sClient.Patch(ctx, live, client.MergeFrom(base))).To(Succeed())
		Eventually(func() []string { return jobNames(ns, "toot") }).WithTimeout(30 * time.Second).Should(ContainElement("toot-migrate-pre-4-5-3"))
		pre := &batchv1.Job{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-migrate-pre-4-5-3"}, pre)).To(Succeed())
		skip, _ := envValue(pre.Spec.Template.Spec.Containers[0], "SKIP_POST_DEPLOYMENT_MIGRATIONS")
		Expect(skip).To(Equal("true"))
		Expect(pre.Spec.Template.Spec.Containers[0].Image).To(Equal("ghcr.io/mastodon/mastodon:v4.5.3"))
		Expect(container(deployment(ns, "toot-web")).Image).To(Equal("ghcr.io/mastodon/mastodon:v4.5.2"), "the old version keeps serving")
		Expect(jobNames(ns, "toot")).NotTo(ContainElement("toot-migrate-post-4-5-3"))
		Eventually(func() *v1alpha1.UpgradeStatus { return getInstance(ns, "toot").Status.Upgrade }).WithTimeout(10 * time.Second).
			Should(Equal(&v1alpha1.UpgradeStatus{FromVersion: "4.5.2", ToVersion: "4.5.3", Phase: "PreMigrate"}))

		By("then the rollout")
		finishJob(ns, "toot-migrate-pre-4-5-3", true)
		Eventually(func() string { return container(deployment(ns, "toot-web")).Image }).WithTimeout(30 * time.Second).Should(Equal("ghcr.io/mastodon/mastodon:v4.5.3"))
		Expect(jobNames(ns, "toot")).NotTo(ContainElement("toot-migrate-post-4-5-3"), "post-deploy waits for the rollout")
		Expect(getInstance(ns, "toot").Status.Version).To(Equal("4.5.2"), "still the running version until every step is done")

		By("then the post-deploy migration, and only then the new version")
		// The operator updates the four Deployments one after the other;
		// roll out once all of them carry the new version, as the
		// Deployment controller would report each one's own rollout.
		Eventually(func() []string {
			list := &appsv1.DeploymentList{}
			Expect(k8sClient.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelInstance: "toot"})).To(Succeed())
			var images []string
			for i := range list.Items {
				images = append(images, container(&list.Items[i]).Image)
			}
			return images
		}).WithTimeout(30 * time.Second).Should(And(HaveLen(4), HaveEach(HaveSuffix(":v4.5.3"))))
		rollOutDeployments(ns, "toot")
		Eventually(func() []string { return jobNames(ns, "toot") }).WithTimeout(30 * time.Second).Should(ContainElement("toot-migrate-post-4-5-3"))
		finishJob(ns, "toot-migrate-post-4-5-3", true)
		Eventually(func() string { return getInstance(ns, "toot").Status.Version }).WithTimeout(30 * time.Second).Should(Equal("4.5.3"))
		eventuallyCondition(ns, "toot", v1alpha1.ConditionReady, metav1.ConditionTrue, "Reconciled")
		Expect(getInstance(ns, "toot").Status.Upgrade).To(BeNil())
		upgradedEvents := func(g Gomega) []string {
			var out []string
			for _, e := range eventsAbout(g, ns, "Instance", "toot") {
				if strings.Contains(e, " Upgraded: ") && strings.Contains(e, "4.5.3") {
					out = append(out, e)
				}
			}
			return out
		}
		// One upgrade, one Event: not one per pass that found the new
		// version running before the status said so (issue 15: Upgraded (x2)).
		Eventually(upgradedEvents).WithTimeout(10 * time.Second).Should(
			Equal([]string{"Normal Upgraded: Now running mastodon 4.5.3 (was 4.5.2)"}))
		Expect(eventsAbout(Default, ns, "Instance", "toot")).To(ContainElement("Normal Installed: Now running mastodon 4.5.2"))
		Consistently(upgradedEvents).WithTimeout(3 * time.Second).Should(HaveLen(1))
		Consistently(generatedEvents).WithTimeout(time.Second).Should(HaveLen(3))

		after := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-secrets"}, after)).To(Succeed())
		Expect(after.UID).To(Equal(before.UID))
		Expect(after.Data).To(Equal(before.Data), "an upgrade never touches generated secrets")

		By("a failed migration stops the upgrade with the Job named")
		live = getInstance(ns, "toot")
		base = live.DeepCopy()
		live.Spec.Version = "4.5.4"
		Expect(k8sClient.Patch(ctx, live, client.MergeFrom(base))).To(Succeed())
		Eventually(func() []string { return jobNames(ns, "toot") }).WithTimeout(30 * time.Second).Should(ContainElement("toot-migrate-pre-4-5-4"))
		finishJob(ns, "toot-migrate-pre-4-5-4", false)
		stalled := eventuallyCondition(ns, "toot", v1alpha1.ConditionStalled, metav1.ConditionTrue, "JobFailed")
		Expect(stalled.Message).To(ContainSubstring("toot-migrate-pre-4-5-4 failed"))
		Expect(stalled.Message).To(ContainSubstring("kubectl logs"))
		Expect(stalled.Message).To(ContainSubstring("No backup was taken before this upgrade (spec.backup is not set)"))
		Expect(eventsAbout(Default, ns, "Instance", "toot")).To(ContainElement(
			"Warning UpgradeWithoutBackup: Upgrading mastodon 4.5.3 → 4.5.4 without a backup: spec.backup is not set, so there is none to go back to if a migration fails"))
		Expect(container(deployment(ns, "toot-web")).Image).To(Equal("ghcr.io/mastodon/mastodon:v4.5.3"), "nothing rolled forward")
		Expect(getInstance(ns, "toot").Status.Version).To(Equal("4.5.3"))
	})

	It("runs a Hometown image as mastodon", func() {
		createSecret(ns, "riverside-smtp", map[string]string{"username": "u", "password": "p"})
		inst := loadSample("fedcommons_v1alpha1_instance_hometown.yaml", ns)
		inst.Spec.Admin = nil
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		Eventually(func() []string { return jobNames(ns, inst.Name) }).WithTimeout(30 * time.Second).ShouldNot(BeEmpty())
		job := &batchv1.Job{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: jobNames(ns, inst.Name)[0]}, job)).To(Succeed())
		Expect(job.Spec.Template.Spec.Containers[0].Image).To(Equal(inst.Spec.Image))
	})

	It("suspends: workloads scale to zero, data stays", func() {
		inst := loadSample("fedcommons_v1alpha1_instance_gotosocial.yaml", ns)
		inst.Spec.Admin = nil
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-web"}, &appsv1.Deployment{})
		}).WithTimeout(30 * time.Second).Should(Succeed())
		live := getInstance(ns, "social")
		base := live.DeepCopy()
		live.Spec.Suspend = true
		Expect(k8sClient.Patch(ctx, live, client.MergeFrom(base))).To(Succeed())
		Eventually(func() int32 { return *deployment(ns, "social-web").Spec.Replicas }).WithTimeout(30 * time.Second).Should(BeZero())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-data"}, &corev1.PersistentVolumeClaim{})).To(Succeed())
	})

	It("keeps generated secrets and data after deletion with Retain, and adopts them again", func() {
		createSecret(ns, "riverside-smtp", map[string]string{"username": "u", "password": "p"})
		inst := loadSample("fedcommons_v1alpha1_instance_mastodon.yaml", ns)
		inst.Spec.Admin = nil
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		Eventually(func() []string { return getInstance(ns, "toot").Status.GeneratedSecrets }).
			WithTimeout(30 * time.Second).Should(ContainElements("toot-secrets", "toot-postgres", "toot-redis"))
		secrets := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-secrets"}, secrets)).To(Succeed())
		Expect(secrets.OwnerReferences).To(BeEmpty(), "Retain: nothing for the garbage collector to follow")
		pg := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-postgres"}, pg)).To(Succeed())
		Expect(pg.OwnerReferences).To(BeEmpty())

		Expect(k8sClient.Delete(ctx, getInstance(ns, "toot"))).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot"}, &v1alpha1.Instance{}))
		}).WithTimeout(30 * time.Second).Should(BeTrue())

		By("a new Instance of the same name adopts the retained secrets unchanged")
		again := loadSample("fedcommons_v1alpha1_instance_mastodon.yaml", ns)
		again.Spec.Admin = nil
		Expect(k8sClient.Create(ctx, again)).To(Succeed())
		Eventually(func() []string { return getInstance(ns, "toot").Status.GeneratedSecrets }).
			WithTimeout(30 * time.Second).Should(ContainElement("toot-secrets"))
		adopted := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-secrets"}, adopted)).To(Succeed())
		Expect(adopted.UID).To(Equal(secrets.UID))
		Expect(adopted.Data).To(Equal(secrets.Data))

		By("switching to deletionPolicy Delete hands the data to the garbage collector")
		live := getInstance(ns, "toot")
		base := live.DeepCopy()
		live.Spec.DeletionPolicy = v1alpha1.DeletionDelete
		Expect(k8sClient.Patch(ctx, live, client.MergeFrom(base))).To(Succeed())
		Eventually(func(g Gomega) {
			s := &corev1.Secret{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-secrets"}, s)).To(Succeed())
			g.Expect(s.OwnerReferences).To(ContainElement(HaveField("UID", live.UID)))
			g.Expect(s.Data).To(Equal(secrets.Data))
			// The data volume too: adding an owner to an existing object
			// is what OwnerReferencesPermissionEnforcement lets only those
			// who may delete it do (docs/operator-rbac.md).
			pvc := &corev1.PersistentVolumeClaim{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-data"}, pvc)).To(Succeed())
			g.Expect(pvc.OwnerReferences).To(ContainElement(HaveField("UID", live.UID)))
		}).WithTimeout(30 * time.Second).Should(Succeed())
	})

	It("keeps an existing StatefulSet's volume template, which the API server will not let change", func() {
		createSecret(ns, "riverside-smtp", map[string]string{"username": "u", "password": "p"})
		inst := loadSample("fedcommons_v1alpha1_instance_mastodon.yaml", ns)
		inst.Spec.Admin = nil
		// The database StatefulSet as an earlier operator (another default
		// size, another storage class) left it.
		profile, err := software.Lookup(inst.Spec.Software)
		Expect(err).NotTo(HaveOccurred())
		old := resources.PostgresStatefulSet(inst, profile, resources.Params{})
		old.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("5Gi")
		old.Spec.VolumeClaimTemplates[0].Spec.StorageClassName = ptr.To("slow")
		old.Spec.Template.Spec.Containers[0].Image = "docker.io/library/postgres:16-alpine"
		old.OwnerReferences = nil // the Instance does not exist yet; the operator's apply sets it
		Expect(k8sClient.Create(ctx, old)).To(Succeed())

		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		// The prepare Job comes after every long-lived object is applied.
		Eventually(func() []string { return jobNames(ns, "toot") }).WithTimeout(30 * time.Second).Should(ContainElement("toot-prepare-4-5-2"))
		live := &appsv1.StatefulSet{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(old), live)).To(Succeed())
		Expect(live.Spec.Template.Spec.Containers[0].Image).To(Equal(resources.PostgresImage), "the rest of the StatefulSet follows the operator")
		claim := live.Spec.VolumeClaimTemplates[0]
		Expect(claim.Spec.Resources.Requests.Storage().String()).To(Equal("5Gi"), "the volume template is left as it was")
		Expect(claim.Spec.StorageClassName).To(Equal(ptr.To("slow")))
		Expect(conditions.IsTrue(getInstance(ns, "toot").Status.Conditions, v1alpha1.ConditionStalled)).To(BeFalse())
	})

	It("stops, without minting new keys, when a generated secret disappears", func() {
		createSecret(ns, "riverside-smtp", map[string]string{"username": "u", "password": "p"})
		inst := loadSample("fedcommons_v1alpha1_instance_mastodon.yaml", ns)
		inst.Spec.Admin = nil
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		Eventually(func() []string { return getInstance(ns, "toot").Status.GeneratedSecrets }).
			WithTimeout(30 * time.Second).Should(ContainElement("toot-secrets"))
		Expect(k8sClient.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "toot-secrets"}})).To(Succeed())
		// Any event will do to bring the reconciler back.
		live := getInstance(ns, "toot")
		base := live.DeepCopy()
		live.Spec.Registrations = v1alpha1.RegistrationsClosed
		Expect(k8sClient.Patch(ctx, live, client.MergeFrom(base))).To(Succeed())
		stalled := eventuallyCondition(ns, "toot", v1alpha1.ConditionStalled, metav1.ConditionTrue, "GeneratedSecretMissing")
		Expect(stalled.Message).To(ContainSubstring("will not generate new keys"))
		Consistently(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-secrets"}, &corev1.Secret{}))
		}).WithTimeout(2 * time.Second).Should(BeTrue())
	})

	It("refuses a second Instance for a domain already served, and touches nothing", func() {
		first := loadSample("fedcommons_v1alpha1_instance_gotosocial.yaml", ns)
		first.Spec.Admin = nil
		Expect(k8sClient.Create(ctx, first)).To(Succeed())
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-web"}, &appsv1.Deployment{})
		}).WithTimeout(30 * time.Second).Should(Succeed())

		other := newNamespace()
		dup := loadSample("fedcommons_v1alpha1_instance_gotosocial.yaml", other)
		dup.Name = "copycat"
		dup.Spec.Admin = nil
		dup.Spec.Domain = first.Spec.Domain
		dup.Spec.AccountDomain = first.Spec.AccountDomain
		Expect(k8sClient.Create(ctx, dup)).To(Succeed())
		stalled := eventuallyCondition(other, "copycat", v1alpha1.ConditionStalled, metav1.ConditionTrue, "DomainTaken")
		Expect(stalled.Message).To(ContainSubstring("already served by Instance " + ns + "/social"))
		Consistently(func() int {
			var n int
			for _, list := range []client.ObjectList{&appsv1.DeploymentList{}, &corev1.SecretList{}, &corev1.PersistentVolumeClaimList{}, &corev1.ServiceList{}} {
				Expect(k8sClient.List(ctx, list, client.InNamespace(other))).To(Succeed())
				n += meta.LenList(list)
			}
			return n
		}).WithTimeout(2 * time.Second).Should(BeZero())

		By("once the domain is free, the waiting Instance proceeds")
		Expect(k8sClient.Delete(ctx, getInstance(ns, "social"))).To(Succeed())
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: other, Name: "copycat-web"}, &appsv1.Deployment{})
		}).WithTimeout(30 * time.Second).Should(Succeed())
	})

	DescribeTable("explains bad input in a condition",
		func(mutate func(*v1alpha1.Instance), reason string, fragments ...string) {
			inst := loadSample("fedcommons_v1alpha1_instance_mastodon.yaml", ns)
			inst.Spec.Admin = nil
			if reason != "SecretNotFound" {
				createSecret(ns, "riverside-smtp", map[string]string{"username": "u", "password": "p"})
			}
			mutate(inst)
			Expect(k8sClient.Create(ctx, inst)).To(Succeed())
			cond := eventuallyCondition(ns, inst.Name, v1alpha1.ConditionStalled, metav1.ConditionTrue, reason)
			for _, f := range fragments {
				Expect(cond.Message).To(ContainSubstring(f))
			}
			ready := meta.FindStatusCondition(getInstance(ns, inst.Name).Status.Conditions, v1alpha1.ConditionReady)
			Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			Expect(ready.Message).To(Equal(cond.Message), "Ready says the same thing, for printer columns")
		},
		Entry("an unknown version", func(i *v1alpha1.Instance) { i.Spec.Version = "3.0.0" }, "UnknownVersion", "spec.version", "spec.image"),
		Entry("a missing issuer", func(i *v1alpha1.Instance) { i.Spec.TLS.IssuerRef.Name = "nobody" }, "IssuerNotFound",
			`ClusterIssuer "nobody" does not exist`),
		Entry("a missing SMTP secret", func(i *v1alpha1.Instance) {}, "SecretNotFound", "spec.smtp.credentialsSecretRef", "riverside-smtp", "username"),
		Entry("a missing external database secret", func(i *v1alpha1.Instance) {
			i.Spec.SMTP = nil
			i.Spec.Database.Postgres = &v1alpha1.PostgresSpec{Mode: v1alpha1.PostgresExternal, External: &v1alpha1.ExternalPostgres{
				Host: "db.example.org", Port: 5432, Database: "toot", User: "toot", PasswordSecretRef: v1alpha1.SecretKeyReference{Name: "toot-db"}}}
		}, "SecretNotFound", "spec.database.postgres.external.passwordSecretRef", "toot-db", "password"),
	)
})
