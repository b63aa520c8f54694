package controllers_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// Issue 15 finding 8 asked why a Community's Events land in `default`.
// Because the API server puts them nowhere else: a Community is
// cluster-scoped, and an events.k8s.io Event about a cluster-scoped object
// must live in `default` (or `kube-system`). This spec pins that fact on
// the real API server, so that the day it changes we hear of it, and
// checks the Events are where `kubectl describe community` looks (every
// namespace, by the regarding object). docs/operating.md says so.
var _ = Describe("Community events", func() {
	It("land in default, the only namespace the API server accepts for a cluster-scoped object", func() {
		name := uniqueName("eventful")
		Expect(k8sClient.Create(ctx, &v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
		c := readyCommunity(name)
		Eventually(func(g Gomega) []string { return eventsAbout(g, "default", "Community", name) }).
			Should(ContainElement("Normal NamespaceCreated: Created namespace " + name))

		By("the API server refuses an Event about the Community in the community's own namespace")
		probe := &eventsv1.Event{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Namespace: c.Status.Namespace},
			EventTime:  metav1.NowMicro(), ReportingController: "fedcommons.io/test", ReportingInstance: "test",
			Action: "Probe", Reason: "Probe", Type: corev1.EventTypeNormal,
			Regarding: corev1.ObjectReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Community", Name: name, UID: c.UID},
		}
		err := k8sClient.Create(ctx, probe)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422 Invalid, got %v", err)
		Expect(err.Error()).To(ContainSubstring("does not match event.namespace"))
	})
})
