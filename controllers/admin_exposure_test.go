package controllers_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// Issue 14 defects 2 and 3: the admin account is made before the server
// is reachable from outside, an account somebody else made under the
// admin's username is never promoted, and spec.registrations reaches the
// server.
var _ = Describe("Admin bootstrap and registrations", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		createClusterIssuer("letsencrypt")
	})

	// The operator applies Mastodon's four Deployments one after the
	// other: roll out once all exist, as the Deployment controller would.
	allFour := func(ns string) {
		GinkgoHelper()
		for _, name := range []string{"toot-web", "toot-streaming", "toot-sidekiq", "toot-scheduler"} {
			Eventually(func() error {
				return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &appsv1.Deployment{})
			}).WithTimeout(30*time.Second).Should(Succeed(), name)
		}
	}
	noIngress := func(name string) {
		GinkgoHelper()
		err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &networkingv1.Ingress{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "an Ingress exists before the admin account does: %v", err)
	}

	It("creates no Ingress until the admin Job succeeded (GoToSocial)", func() {
		inst := loadSample("fedcommons_v1alpha1_instance_gotosocial.yaml", ns)
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-web"}, &corev1.Service{})
		}).WithTimeout(30 * time.Second).Should(Succeed())
		noIngress("social")
		rollOutDeployments(ns, "social")
		waitJob(ns, "social", "social-admin-bootstrap")
		Consistently(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social"}, &networkingv1.Ingress{}))
		}).WithTimeout(3*time.Second).Should(BeTrue(), "the admin Job runs, the server is not exposed yet")

		job := &batchv1.Job{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-admin-bootstrap"}, job)).To(Succeed())
		Expect(job.Spec.PodFailurePolicy).NotTo(BeNil(), "a taken username fails the Job at once")

		finishJob(ns, "social-admin-bootstrap", true)
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social"}, &networkingv1.Ingress{})
		}).WithTimeout(30 * time.Second).Should(Succeed())
	})

	It("stalls with AdminAccountMismatch when the username belongs to somebody else (Mastodon), and stays unexposed", func() {
		createSecret(ns, "riverside-smtp", map[string]string{"username": "u", "password": "p"})
		inst := loadSample("fedcommons_v1alpha1_instance_mastodon.yaml", ns)
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		Eventually(func() []string { return jobNames(ns, "toot") }).WithTimeout(30 * time.Second).Should(ContainElement("toot-prepare-4-5-2"))
		finishJob(ns, "toot-prepare-4-5-2", true)
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-web"}, &appsv1.Deployment{})
		}).WithTimeout(30 * time.Second).Should(Succeed())
		allFour(ns)
		rollOutDeployments(ns, "toot")
		readyStatefulSets(ns, "toot")
		waitJob(ns, "toot", "toot-admin-bootstrap")
		noIngress("toot")

		By("the Job controller fails the Job by its pod failure policy: exit code 42")
		job := &batchv1.Job{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-admin-bootstrap"}, job)).To(Succeed())
		now := metav1.Now()
		job.Status.StartTime = &now
		job.Status.Failed = 1
		msg := "Container account for pod " + ns + "/toot-admin-bootstrap-x1 failed with exit code 42 matching FailJob rule at index 0"
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonPodFailurePolicy, Message: msg, LastTransitionTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonPodFailurePolicy, Message: msg, LastTransitionTime: now},
		}
		Expect(k8sClient.Status().Update(ctx, job)).To(Succeed())

		stalled := eventuallyCondition(ns, "toot", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonAdminAccountMismatch)
		Expect(stalled.Message).To(ContainSubstring("the username " + inst.Spec.Admin.Username + " is taken by an account whose email is not spec.admin.email"))
		Expect(stalled.Message).To(ContainSubstring("delete Job " + ns + "/toot-admin-bootstrap to retry"))
		admin := eventuallyCondition(ns, "toot", v1alpha1.ConditionAdminReady, metav1.ConditionFalse, v1alpha1.ReasonAdminAccountMismatch)
		Expect(admin.Message).To(Equal(stalled.Message))
		noIngress("toot")
	})

	It("follows spec.registrations on Mastodon with one Job per change, and in GoToSocial's env", func() {
		createSecret(ns, "riverside-smtp", map[string]string{"username": "u", "password": "p"})
		inst := loadSample("fedcommons_v1alpha1_instance_mastodon.yaml", ns)
		inst.Spec.Admin = nil
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		Eventually(func() []string { return jobNames(ns, "toot") }).WithTimeout(30 * time.Second).Should(ContainElement("toot-prepare-4-5-2"))
		finishJob(ns, "toot-prepare-4-5-2", true)
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-web"}, &appsv1.Deployment{})
		}).WithTimeout(30 * time.Second).Should(Succeed())
		allFour(ns)
		rollOutDeployments(ns, "toot")
		readyStatefulSets(ns, "toot")

		command := func(mode string) string {
			for _, j := range registrationsJobs(ns, "toot") {
				if j.Annotations["fedcommons.io/registrations"] == mode {
					return strings.Join(j.Spec.Template.Spec.Containers[0].Command, " ")
				}
			}
			return ""
		}
		Eventually(func() string { return command("approval") }).WithTimeout(30 * time.Second).Should(Equal("bin/tootctl settings registrations approved"))
		noIngress("toot")
		finishRegistrations(ns, "toot", "approval")
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot"}, &networkingv1.Ingress{})
		}).WithTimeout(30*time.Second).Should(Succeed(), "exposed once registrations are set")

		setMode := func(mode v1alpha1.Registrations) {
			live := getInstance(ns, "toot")
			base := live.DeepCopy()
			live.Spec.Registrations = mode
			Expect(k8sClient.Patch(ctx, live, client.MergeFrom(base))).To(Succeed())
		}
		By("closing registrations runs a new Job")
		setMode(v1alpha1.RegistrationsClosed)
		Eventually(func() string { return command("closed") }).WithTimeout(30 * time.Second).Should(Equal("bin/tootctl settings registrations close"))
		finishRegistrations(ns, "toot", "closed")
		By("back to approval: a new Job, not the old complete one")
		setMode(v1alpha1.RegistrationsApproval)
		Eventually(func() int { return len(registrationsJobs(ns, "toot")) }).WithTimeout(30 * time.Second).Should(Equal(3))
		finishRegistrations(ns, "toot", "approval")
		Consistently(func() int { return len(registrationsJobs(ns, "toot")) }).WithTimeout(3 * time.Second).Should(Equal(3))

		By("GoToSocial: the Deployment's env follows the spec")
		gts := loadSample("fedcommons_v1alpha1_instance_gotosocial.yaml", ns)
		gts.Spec.Admin = nil
		gts.Spec.Registrations = v1alpha1.RegistrationsClosed
		Expect(k8sClient.Create(ctx, gts)).To(Succeed())
		Eventually(func() string {
			d := &appsv1.Deployment{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-web"}, d); err != nil {
				return err.Error()
			}
			v, _ := envValue(container(d), "GTS_ACCOUNTS_REGISTRATION_OPEN")
			return v
		}).WithTimeout(30 * time.Second).Should(Equal("false"))
		live := getInstance(ns, "social")
		base := live.DeepCopy()
		live.Spec.Registrations = v1alpha1.RegistrationsOpen
		Expect(k8sClient.Patch(ctx, live, client.MergeFrom(base))).To(Succeed())
		Eventually(func() string {
			v, _ := envValue(container(deployment(ns, "social-web")), "GTS_ACCOUNTS_REGISTRATION_OPEN")
			return v
		}).WithTimeout(30 * time.Second).Should(Equal("true"))
	})
})
