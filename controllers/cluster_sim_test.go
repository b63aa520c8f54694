package controllers_test

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// envtest runs an API server and etcd only: no kube-controller-manager, no
// kubelet, no cert-manager. These helpers play those parts, writing the
// status each of them would write, so the operator sees the cluster it
// would see in production. (The local-cluster e2e tests run the real
// controllers with kwok.)

// loadSample reads an Instance from config/samples and moves it into ns
// with a domain unique to the test (domains are unique cluster-wide).
func loadSample(file, ns string) *v1alpha1.Instance {
	GinkgoHelper()
	data, err := os.ReadFile(filepath.Join("..", "config", "samples", file))
	Expect(err).NotTo(HaveOccurred())
	inst := &v1alpha1.Instance{}
	Expect(yaml.Unmarshal(data, inst)).To(Succeed())
	inst.Namespace = ns
	suffix := "." + ns + ".test"
	inst.Spec.Domain = v1alpha1.Domain(strings.Split(string(inst.Spec.Domain), ".")[0] + suffix)
	if inst.Spec.AccountDomain != "" {
		inst.Spec.AccountDomain = v1alpha1.Domain(ns + ".test")
	}
	// Moderation delivery is tested on its own (federation_test.go).
	if inst.Spec.External == nil {
		if inst.Spec.Federation == nil {
			inst.Spec.Federation = &v1alpha1.InstanceFederation{}
		}
		inst.Spec.Federation.Sync = new(bool)
	}
	return inst
}

func createClusterIssuer(name string) {
	GinkgoHelper()
	issuer := &certmanagerv1.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       certmanagerv1.IssuerSpec{IssuerConfig: certmanagerv1.IssuerConfig{SelfSigned: &certmanagerv1.SelfSignedIssuer{}}},
	}
	err := k8sClient.Create(ctx, issuer)
	if err != nil {
		Expect(client.IgnoreAlreadyExists(err)).To(Succeed())
	}
}

func createSecret(ns, name string, data map[string]string) {
	GinkgoHelper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
	Expect(k8sClient.Create(ctx, s)).To(Succeed())
}

// rollOutDeployments plays the Deployment controller and kubelet: every
// Deployment of the instance reports its replicas updated and available.
func rollOutDeployments(ns, instance string) {
	GinkgoHelper()
	// The operator may be writing the same Deployments: like any
	// controller, retry on a conflict with a fresh read.
	Eventually(func(g Gomega) {
		list := &appsv1.DeploymentList{}
		g.Expect(k8sClient.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelInstance: instance})).To(Succeed())
		g.Expect(list.Items).NotTo(BeEmpty())
		for i := range list.Items {
			d := &list.Items[i]
			d.Status = rolledOut(d)
			g.Expect(k8sClient.Status().Update(ctx, d)).To(Succeed())
		}
	}).WithTimeout(30 * time.Second).Should(Succeed())
}

// rolledOut is the status of a Deployment whose current generation has
// rolled out with every replica available.
func rolledOut(d *appsv1.Deployment) appsv1.DeploymentStatus {
	n := *d.Spec.Replicas
	return appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"}},
	}
}

// keepRollingOut plays the Deployment controller for the rest of the spec:
// whenever one of the Instance's Deployments has a generation its status
// has not observed, the new generation rolls out. Specs in which the
// operator changes a Deployment again on its own (GoToSocial restarts
// once its admin is promoted) use it, as a real cluster always runs a
// Deployment controller; a one-off rollOutDeployments would race it.
func keepRollingOut(ns, instance string) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			list := &appsv1.DeploymentList{}
			if err := k8sClient.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelInstance: instance}); err != nil {
				continue
			}
			for i := range list.Items {
				d := &list.Items[i]
				if d.Status.ObservedGeneration == d.Generation {
					continue
				}
				d.Status = rolledOut(d)
				// A conflict with the operator's write is retried on the next tick.
				_ = k8sClient.Status().Update(ctx, d)
			}
		}
	}()
	DeferCleanup(func() {
		close(stop)
		<-done
	})
}

func readyStatefulSets(ns, instance string) {
	GinkgoHelper()
	list := &appsv1.StatefulSetList{}
	Expect(k8sClient.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelInstance: instance})).To(Succeed())
	for i := range list.Items {
		Eventually(func(g Gomega) {
			s := &appsv1.StatefulSet{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(&list.Items[i]), s)).To(Succeed())
			n := *s.Spec.Replicas
			s.Status = appsv1.StatefulSetStatus{ObservedGeneration: s.Generation, Replicas: n, ReadyReplicas: n, AvailableReplicas: n, CurrentReplicas: n, UpdatedReplicas: n}
			g.Expect(k8sClient.Status().Update(ctx, s)).To(Succeed())
		}).WithTimeout(30 * time.Second).Should(Succeed())
	}
}

// finishJob plays the Job controller: the Job completes or fails.
func finishJob(ns, name string, succeeded bool) {
	GinkgoHelper()
	job := &batchv1.Job{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, job)).To(Succeed())
	now := metav1.Now()
	job.Status.StartTime = &now
	if succeeded {
		job.Status.Succeeded = 1
		job.Status.CompletionTime = &now
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
	} else {
		job.Status.Failed = 1
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now},
		}
	}
	Expect(k8sClient.Status().Update(ctx, job)).To(Succeed())
}

// issueCertificate plays cert-manager: the TLS Secret appears and the
// Certificate turns Ready.
func issueCertificate(ns, name string) {
	GinkgoHelper()
	cert := &certmanagerv1.Certificate{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cert)).To(Succeed())
	createSecret(ns, cert.Spec.SecretName+"-"+rand.String(4), map[string]string{"tls.crt": "x", "tls.key": "y"})
	now := metav1.Now()
	cert.Status.Conditions = []certmanagerv1.CertificateCondition{{
		Type: certmanagerv1.CertificateConditionReady, Status: cmmeta.ConditionTrue, Reason: "Ready", Message: "Certificate is up to date and has not expired", LastTransitionTime: &now,
	}}
	Expect(k8sClient.Status().Update(ctx, cert)).To(Succeed())
}

// registrationsJobs lists an Instance's registrations Jobs (issue 14 defect
// 3), newest last by name order of creation as the operator makes them.
func registrationsJobs(ns, instance string) []batchv1.Job {
	GinkgoHelper()
	list := &batchv1.JobList{}
	Expect(k8sClient.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{
		v1alpha1.LabelInstance: instance, v1alpha1.LabelComponent: "registrations",
	})).To(Succeed())
	return list.Items
}

// finishRegistrations waits for the registrations Job of the current mode
// and plays the Job controller completing it.
func finishRegistrations(ns, instance, mode string) {
	GinkgoHelper()
	var name string
	Eventually(func(g Gomega) {
		for _, j := range registrationsJobs(ns, instance) {
			if j.Annotations["fedcommons.io/registrations"] == mode && len(j.Status.Conditions) == 0 {
				name = j.Name
			}
		}
		g.Expect(name).NotTo(BeEmpty(), "no running registrations Job for %s", mode)
	}).WithTimeout(30 * time.Second).Should(Succeed())
	finishJob(ns, name, true)
}
