package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// Issue 14 defect 1: deleting a Community deleted the namespace it created
// and, with it, what the Instances kept under deletionPolicy Retain.
var _ = Describe("Community deletion with retained data", func() {
	It("refuses while retained volumes and generated Secrets remain, names them, and deletes only on the documented opt-in", func() {
		createClusterIssuer("letsencrypt")
		name := uniqueName("keep")
		Expect(k8sClient.Create(ctx, &v1alpha1.Community{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       v1alpha1.CommunitySpec{DisplayName: "Keepers", Domains: []v1alpha1.Domain{v1alpha1.Domain(name + ".test")}},
		})).To(Succeed())
		readyCommunity(name)
		ns := name

		inst := loadSample("fedcommons_v1alpha1_instance_gotosocial.yaml", ns)
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		var generated []string
		Eventually(func(g Gomega) {
			live := getInstance(ns, inst.Name)
			generated = live.Status.GeneratedSecrets
			g.Expect(generated).NotTo(BeEmpty(), "conditions: %v", live.Status.Conditions)
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: inst.Name + "-data"}, &corev1.PersistentVolumeClaim{})).To(Succeed())
		}).WithTimeout(30 * time.Second).Should(Succeed())

		By("deleting the Instance (deletionPolicy Retain), then the Community")
		Expect(k8sClient.Delete(ctx, getInstance(ns, inst.Name))).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: inst.Name}, &v1alpha1.Instance{}))
		}).WithTimeout(30 * time.Second).Should(BeTrue())
		Expect(k8sClient.Delete(ctx, &v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())

		Eventually(func(g Gomega) {
			c := &v1alpha1.Community{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, c)).To(Succeed(), "the Community must wait, not go")
			cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionStalled)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(v1alpha1.ReasonRetainedDataRemains))
			g.Expect(cond.Message).To(ContainSubstring("1 PersistentVolumeClaim(s): " + inst.Name + "-data"))
			for _, s := range generated {
				g.Expect(cond.Message).To(ContainSubstring(s))
			}
			g.Expect(cond.Message).To(ContainSubstring("kubectl annotate community " + name + " fedcommons.io/delete-retained-data=true"))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		Eventually(func(g Gomega) {
			list := &eventsv1.EventList{}
			g.Expect(k8sClient.List(ctx, list)).To(Succeed())
			found := false
			for _, e := range list.Items {
				if e.Regarding.Kind == "Community" && e.Regarding.Name == name && e.Type == corev1.EventTypeWarning && e.Reason == "DeletionBlocked" {
					found = true
				}
			}
			g.Expect(found).To(BeTrue(), "a Warning DeletionBlocked Event")
		}).WithTimeout(10 * time.Second).Should(Succeed())
		Consistently(func(g Gomega) {
			namespace := &corev1.Namespace{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
			g.Expect(namespace.DeletionTimestamp).To(BeNil(), "the namespace holding retained data must stay")
		}).WithTimeout(3 * time.Second).Should(Succeed())

		By("the sysadmin opts in: the namespace goes, with the data")
		c := &v1alpha1.Community{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, c)).To(Succeed())
		base := c.DeepCopy()
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[v1alpha1.AnnotationDeleteRetainedData] = "true"
		Expect(k8sClient.Patch(ctx, c, client.MergeFrom(base))).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: name}, &v1alpha1.Community{}))
		}).WithTimeout(30 * time.Second).Should(BeTrue())
		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
		Expect(namespace.DeletionTimestamp).NotTo(BeNil())
	})

	It("deletes the namespace without asking once the sysadmin removed the retained data", func() {
		name := uniqueName("emptied")
		Expect(k8sClient.Create(ctx, &v1alpha1.Community{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       v1alpha1.CommunitySpec{DisplayName: "Emptied"},
		})).To(Succeed())
		readyCommunity(name)
		// A retained claim the operator made, left by an Instance now gone.
		pvc := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "old-data", Labels: map[string]string{
				v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue, v1alpha1.LabelInstance: "old",
			}},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}
		Expect(k8sClient.Create(ctx, pvc)).To(Succeed())
		Expect(k8sClient.Delete(ctx, &v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
		Eventually(func(g Gomega) {
			c := &v1alpha1.Community{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, c)).To(Succeed())
			cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionStalled)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Message).To(ContainSubstring("old-data"))
		}).WithTimeout(30 * time.Second).Should(Succeed())

		// envtest has no PVC protection controller: the delete is immediate,
		// and the claim's deletion event brings the Community back.
		Expect(k8sClient.Delete(ctx, pvc)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: name}, &v1alpha1.Community{}))
		}).WithTimeout(30 * time.Second).Should(BeTrue())
	})
})
