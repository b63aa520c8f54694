package manager

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"unsafe"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

// fieldsOf is the object's top-level JSON fields other than apiVersion,
// kind and metadata, each with its JSON (empty ones left out: a zero
// struct still marshals as {"loadBalancer":{}}).
func fieldsOf(t *testing.T, obj any) map[string]string {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range m {
		if k == "apiVersion" || k == "kind" || k == "metadata" || emptyJSON(v) {
			continue
		}
		out[k] = string(v)
	}
	return out
}

// The kinds the operator only writes keep their metadata, all of it but
// managedFields and kubectl's copy (readers: the Applier's
// resourceVersion, the Owns watches' owner references, labels for
// listing, the claims' deletion time), and lose spec and status.
func TestSlimTransformKeepsMetadataOfWriteOnlyKinds(t *testing.T) {
	inst := toot()
	objs, err := resources.Desired(inst, software.Mastodon, "4.5.2", resources.Params{Community: "riverside"})
	if err != nil {
		t.Fatal(err)
	}
	owner := metav1.OwnerReference{APIVersion: "fedcommons.io/v1alpha1", Kind: "Community", Name: "riverside", UID: "uid-c", Controller: new(true)}
	labels := map[string]string{"app.kubernetes.io/managed-by": "fedcommons"}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "riverside", Name: name, Labels: labels, OwnerReferences: []metav1.OwnerReference{owner}}
	}
	objs = append(objs,
		&corev1.ResourceQuota{ObjectMeta: meta("quota"), Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("40")}},
			Status: corev1.ResourceQuotaStatus{Used: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("12")}}},
		&corev1.LimitRange{ObjectMeta: meta("limits"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer}}}},
		&rbacv1.Role{ObjectMeta: meta("restore"), Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, Resources: []string{"secrets"}}}},
		&gatewayv1.HTTPRoute{ObjectMeta: meta("toot"), Spec: gatewayv1.HTTPRouteSpec{Hostnames: []gatewayv1.Hostname{"toot.riverside.example"}}},
	)
	kinds := map[string]int{}
	for _, obj := range objs {
		switch obj.(type) {
		case *corev1.Service, *corev1.PersistentVolumeClaim, *networkingv1.Ingress, *networkingv1.NetworkPolicy,
			*corev1.ResourceQuota, *corev1.LimitRange, *rbacv1.Role, *gatewayv1.HTTPRoute:
		default:
			continue
		}
		obj = live(t, obj)
		if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
			pvc.Status.Phase = corev1.ClaimBound
			pvc.DeletionTimestamp = new(metav1.Now())
		}
		if len(fieldsOf(t, obj)) == 0 {
			t.Fatalf("%T %s: the test object has no spec to drop", obj, obj.GetName())
		}
		want := obj.(client.Object).DeepCopyObject().(client.Object)
		got := transform(t, obj).(client.Object)
		kinds[reflect.TypeOf(got).Elem().Name()]++
		if f := fieldsOf(t, got); len(f) != 0 {
			t.Errorf("%T %s: kept %v", got, got.GetName(), f)
		}
		if got.GetResourceVersion() != want.GetResourceVersion() || got.GetGeneration() != want.GetGeneration() ||
			!reflect.DeepEqual(got.GetLabels(), want.GetLabels()) || !reflect.DeepEqual(got.GetOwnerReferences(), want.GetOwnerReferences()) ||
			!reflect.DeepEqual(got.GetDeletionTimestamp(), want.GetDeletionTimestamp()) || got.GetAnnotations()["fedcommons.io/kept"] != "yes" {
			t.Errorf("%T %s: metadata changed: %+v", got, got.GetName(), got)
		}
	}
	for _, k := range []string{"Service", "PersistentVolumeClaim", "Ingress", "NetworkPolicy", "ResourceQuota", "LimitRange", "Role", "HTTPRoute"} {
		if kinds[k] == 0 {
			t.Errorf("no %s was checked", k)
		}
	}

	// A Certificate keeps its status: certificateState reads Ready.
	cert := live(t, &certmanagerv1.Certificate{ObjectMeta: meta("toot-tls"),
		Spec:   certmanagerv1.CertificateSpec{SecretName: "toot-tls", DNSNames: []string{"toot.riverside.example"}, IssuerRef: cmmeta.IssuerReference{Name: "letsencrypt"}},
		Status: certmanagerv1.CertificateStatus{Conditions: []certmanagerv1.CertificateCondition{{Type: certmanagerv1.CertificateConditionReady, Status: cmmeta.ConditionFalse, Message: "pending"}}}})
	gotCert := transform(t, cert).(*certmanagerv1.Certificate)
	if len(gotCert.Status.Conditions) != 1 || gotCert.Status.Conditions[0].Message != "pending" || gotCert.Spec.SecretName != "" {
		t.Errorf("Certificate: status lost or spec kept: %+v", gotCert)
	}

	// RoleBindings are kept whole: a member's roleRef is compared.
	rb := &rbacv1.RoleBinding{ObjectMeta: meta("member"), RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "fedcommons-moderator"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "ana"}}}
	if got := transform(t, rb.DeepCopy()).(*rbacv1.RoleBinding); !reflect.DeepEqual(got, rb) {
		t.Errorf("RoleBinding changed: %+v", got)
	}
}

// emptyJSON: null, {}, [] or an object holding only such values.
func emptyJSON(raw json.RawMessage) bool {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	var empty func(any) bool
	empty = func(v any) bool {
		switch x := v.(type) {
		case nil:
			return true
		case []any:
			return len(x) == 0
		case map[string]any:
			for _, e := range x {
				if !empty(e) {
					return false
				}
			}
			return true
		}
		return false
	}
	return empty(v)
}

// Two objects decoded apart share their labels', namespace's and owner
// kinds' strings once cached, with the same values.
func TestSlimTransformSharesRepeatedStrings(t *testing.T) {
	const doc = `{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"riverside",
		"labels":{"fedcommons.io/instance":"toot","app.kubernetes.io/managed-by":"fedcommons"},
		"ownerReferences":[{"apiVersion":"fedcommons.io/v1alpha1","kind":"Instance","name":"toot","uid":"u1"}]}}`
	decode := func(name string) *corev1.Service {
		s := &corev1.Service{}
		if err := json.Unmarshal(fmt.Appendf(nil, doc, name), s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := transform(t, decode("toot-web")).(*corev1.Service), transform(t, decode("toot-streaming")).(*corev1.Service)
	same := func(what, x, y string) {
		if x != y || unsafe.StringData(x) != unsafe.StringData(y) {
			t.Errorf("%s: %q and %q are not one shared string", what, x, y)
		}
	}
	same("namespace", a.Namespace, b.Namespace)
	same("owner apiVersion", a.OwnerReferences[0].APIVersion, b.OwnerReferences[0].APIVersion)
	same("owner kind", a.OwnerReferences[0].Kind, b.OwnerReferences[0].Kind)
	for k, v := range a.Labels {
		same("label value "+k, v, b.Labels[k])
		for kb := range b.Labels {
			if kb == k {
				same("label key", k, kb)
			}
		}
	}
	if len(a.Labels) != 2 || a.Labels["fedcommons.io/instance"] != "toot" || a.Name != "toot-web" || a.OwnerReferences[0].Name != "toot" {
		t.Errorf("values changed: %+v", a.ObjectMeta)
	}
}
