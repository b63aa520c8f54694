package manager

import (
	"unique"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/backup"
)

// lastApplied is kubectl's client-side apply record: a second copy of the
// whole object as the user last applied it.
const lastApplied = corev1.LastAppliedConfigAnnotation

// slimTransform is the informer cache's transform: it drops, before an
// object is stored, what no reader of the cache uses. The cache holds
// every child of every Instance for the life of the process, and a pod
// template is most of a workload's size (issue 16: peak RSS grew 0.23 MiB
// per Instance with the templates kept, 0.19 MiB without, from 100 to 300
// Instances).
//
// What the readers use, and so what is kept (a reader of a new field must
// change this, and TestSlimTransformKeepsWhatReadersUse with it):
//   - the Applier (internal/apply): metadata.resourceVersion only; it
//     compares hashes of the desired objects, never the live spec;
//   - Deployments: spec.replicas, metadata.generation and status
//     (deploymentDone);
//   - StatefulSets: spec.replicas, status (databaseState) and
//     spec.volumeClaimTemplates (keepClaimTemplates re-applies them as
//     they are, since the API server refuses any change);
//   - Jobs: labels, annotations (the registrations mode and sequence) and
//     status; of the pod template only each container's name and its
//     backup.NameEnv variable (backup.NameOf: the name of a backup taken
//     before an upgrade is read back from its Job);
//   - CronJobs: metadata only (creation time, owner, UID);
//   - Services, Ingresses, NetworkPolicies, PersistentVolumeClaims,
//     ResourceQuotas, LimitRanges, Roles and HTTPRoutes: metadata only.
//     The operator writes them and reads nothing back but the Applier's
//     resourceVersion, owner references and labels (the Owns watches),
//     the controller reference (deleteOwned) and, of the claims, the
//     labels, owners and deletion time (retained, the Community's claim
//     watch). Their spec and status were ~20 % of the heap at 300
//     Instances (a heap profile, issue 16);
//   - Certificates: status (certificateState reads the Ready condition),
//     not the spec;
//   - Deployments and StatefulSets lose status.conditions: the readers
//     above read the counters, never a condition, and each Deployment
//     carries two conditions with free-text messages.
//
// RoleBindings, ServiceAccounts and Namespaces are kept whole: the
// Community reconciler reads a binding's roleRef (immutable: a changed
// role means delete and re-create), and the others are small.
//
// Event handlers see the transformed object too; the watches of these
// kinds map by owner reference or labels only.
//
// kubectl's last-applied annotation is dropped from every kind but
// Communities: the Community reconciler writes its finalizer with an
// Update of the cached object, which would erase the annotation on the
// server and break the user's next `kubectl apply`. Nothing else the
// cache holds is ever written back whole (status patches and server-side
// apply send only what they set).
func slimTransform() toolscache.TransformFunc {
	stripManagedFields := cache.TransformStripManagedFields()
	return func(in any) (any, error) {
		in, err := stripManagedFields(in)
		if err != nil {
			return in, err
		}
		if obj, err := meta.Accessor(in); err == nil {
			internShared(obj)
		}
		switch o := in.(type) {
		case *appsv1.Deployment:
			o.Spec.Template = corev1.PodTemplateSpec{}
			o.Status.Conditions = nil
		case *appsv1.StatefulSet:
			o.Spec.Template = corev1.PodTemplateSpec{}
			o.Status.Conditions = nil
		case *batchv1.Job:
			o.Spec.Template = corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: backupNameOnly(o.Spec.Template.Spec.Containers)}}
		case *batchv1.CronJob:
			o.Spec.JobTemplate = batchv1.JobTemplateSpec{}
		case *corev1.Service:
			o.Spec, o.Status = corev1.ServiceSpec{}, corev1.ServiceStatus{}
		case *corev1.PersistentVolumeClaim:
			o.Spec, o.Status = corev1.PersistentVolumeClaimSpec{}, corev1.PersistentVolumeClaimStatus{}
		case *corev1.ResourceQuota:
			o.Spec, o.Status = corev1.ResourceQuotaSpec{}, corev1.ResourceQuotaStatus{}
		case *corev1.LimitRange:
			o.Spec = corev1.LimitRangeSpec{}
		case *networkingv1.Ingress:
			o.Spec, o.Status = networkingv1.IngressSpec{}, networkingv1.IngressStatus{}
		case *networkingv1.NetworkPolicy:
			o.Spec = networkingv1.NetworkPolicySpec{}
		case *rbacv1.Role:
			o.Rules = nil
		case *gatewayv1.HTTPRoute:
			o.Spec, o.Status = gatewayv1.HTTPRouteSpec{}, gatewayv1.HTTPRouteStatus{}
		case *certmanagerv1.Certificate:
			o.Spec = certmanagerv1.CertificateSpec{}
		case *v1alpha1.Community:
			return in, nil
		}
		if obj, err := meta.Accessor(in); err == nil {
			if a := obj.GetAnnotations(); a[lastApplied] != "" {
				delete(a, lastApplied)
				obj.SetAnnotations(a)
			}
		}
		return in, nil
	}
}

// backupNameOnly keeps of each container its name and backup.NameEnv.
func backupNameOnly(in []corev1.Container) []corev1.Container {
	out := make([]corev1.Container, 0, len(in))
	for _, c := range in {
		kept := corev1.Container{Name: c.Name}
		for _, e := range c.Env {
			if e.Name == backup.NameEnv {
				kept.Env = []corev1.EnvVar{{Name: e.Name, Value: e.Value}}
			}
		}
		out = append(out, kept)
	}
	return out
}

// internShared makes the strings that many cached objects repeat point to
// one copy each: label keys and values (every child of an Instance
// carries the same five to seven), the namespace, and the owner
// references' apiVersion and kind. Each object arrives decoded on its
// own, with its own copy of every string. Values are unchanged; strings
// unique to an object (name, uid, resourceVersion) are left alone, since
// interning them would only add the intern table's entry.
func internShared(obj metav1.Object) {
	obj.SetNamespace(unique.Make(obj.GetNamespace()).Value())
	if labels := obj.GetLabels(); len(labels) > 0 {
		shared := make(map[string]string, len(labels))
		for k, v := range labels {
			shared[unique.Make(k).Value()] = unique.Make(v).Value()
		}
		obj.SetLabels(shared)
	}
	if refs := obj.GetOwnerReferences(); len(refs) > 0 {
		for i := range refs {
			refs[i].APIVersion = unique.Make(refs[i].APIVersion).Value()
			refs[i].Kind = unique.Make(refs[i].Kind).Value()
		}
		obj.SetOwnerReferences(refs)
	}
}
