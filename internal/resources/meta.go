package resources

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/software"
)

// Standard labels set on every object, next to the fedcommons.io ones of
// the API package.
const (
	LabelName         = "app.kubernetes.io/name"
	LabelAppInstance  = "app.kubernetes.io/instance"
	LabelAppComponent = "app.kubernetes.io/component"
	// LabelData marks pods that mount the data volume; they are scheduled
	// on one node because the volume is ReadWriteOnce.
	LabelData = "fedcommons.io/data"
	// AnnotationRollout on a pod template restarts the pods when it changes.
	AnnotationRollout = "fedcommons.io/rollout"
)

// Params are the inputs of the builders that do not come from the Instance.
type Params struct {
	// Community the Instance belongs to (the fedcommons.io/community label).
	Community string
	// OperatorNamespace is where the operator runs; it may reach the admin
	// API port of the server.
	OperatorNamespace string
	// IngressNamespaceSelector selects the namespaces of the ingress
	// controller or gateway allowed to reach the server. Defaults to
	// kubernetes.io/metadata.name=ingress-nginx.
	IngressNamespaceSelector *metav1.LabelSelector
	// RolloutToken is written on every pod template; changing it restarts
	// the pods (GoToSocial needs a restart after an admin is promoted).
	RolloutToken string
}

// Labels are the labels of an Instance's objects for a component.
func Labels(inst *v1alpha1.Instance, component string, params Params) map[string]string {
	l := map[string]string{
		LabelName:               string(inst.Spec.Software),
		LabelAppInstance:        inst.Name,
		LabelAppComponent:       component,
		v1alpha1.LabelComponent: component,
		v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue,
		v1alpha1.LabelInstance:  inst.Name,
	}
	if params.Community != "" {
		l[v1alpha1.LabelCommunity] = params.Community
	}
	return l
}

// SelectorLabels select the pods of one component. They are a subset of
// Labels that never changes, since Deployment selectors are immutable.
func SelectorLabels(inst *v1alpha1.Instance, component string) map[string]string {
	return map[string]string{
		v1alpha1.LabelInstance:  inst.Name,
		v1alpha1.LabelComponent: component,
	}
}

// OwnerReference makes the Instance the controller of an object, so it is
// garbage collected with it.
func OwnerReference(inst *v1alpha1.Instance) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{
		APIVersion:         v1alpha1.GroupVersion.String(),
		Kind:               "Instance",
		Name:               inst.Name,
		UID:                inst.UID,
		Controller:         &yes,
		BlockOwnerDeletion: &yes,
	}
}

// objectMeta is the metadata of an object owned by the Instance.
func objectMeta(inst *v1alpha1.Instance, name, component string, params Params) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       inst.Namespace,
		Labels:          Labels(inst, component, params),
		OwnerReferences: []metav1.OwnerReference{OwnerReference(inst)},
	}
}

// dataMeta is the metadata of data that deletionPolicy governs. With Retain
// (the default) it has no owner reference, so deleting the Instance keeps
// it; it stays labelled with the Instance, so an Instance of the same name
// finds it (same name) and adopts it. With Delete it is owned and goes with
// the Instance. Switching the policy adds or removes the reference on the
// next apply.
func dataMeta(inst *v1alpha1.Instance, name, component string, params Params) metav1.ObjectMeta {
	m := objectMeta(inst, name, component, params)
	if !deleteData(inst) {
		m.OwnerReferences = nil
	}
	return m
}

func deleteData(inst *v1alpha1.Instance) bool {
	return inst.Spec.DeletionPolicy == v1alpha1.DeletionDelete
}

// Names of an Instance's objects.

// ComponentName is the name of a component's Deployment and Service.
func ComponentName(inst *v1alpha1.Instance, component string) string {
	return inst.Name + "-" + component
}

// DataVolumeName is the name of the data PersistentVolumeClaim.
func DataVolumeName(inst *v1alpha1.Instance) string { return inst.Name + "-data" }

// SecretsName is the name of the Secret holding the profile's generated keys.
func SecretsName(inst *v1alpha1.Instance) string { return inst.Name + "-secrets" }

// AdminSecretName is the name of the Secret holding the admin's generated
// password or token.
func AdminSecretName(inst *v1alpha1.Instance) string { return inst.Name + "-admin" }

// PostgresName is the name of the bundled PostgreSQL StatefulSet, Service and Secret.
func PostgresName(inst *v1alpha1.Instance) string { return inst.Name + "-postgres" }

// RedisName is the name of the bundled Redis StatefulSet, Service and Secret.
func RedisName(inst *v1alpha1.Instance) string { return inst.Name + "-redis" }

// TLSSecretName is the Secret of the server's certificate: the sysadmin's
// (spec.tls.secretName) or the one cert-manager issues.
func TLSSecretName(inst *v1alpha1.Instance) string {
	if inst.Spec.TLS != nil && inst.Spec.TLS.SecretName != "" {
		return inst.Spec.TLS.SecretName
	}
	return inst.Name + "-tls"
}

// StepJobName is the name of a step's Job at a version, such as
// social-migrate-pre-4-5-2: one Job per step and version, so each runs once.
func StepJobName(inst *v1alpha1.Instance, step software.Step, version software.Version) string {
	return inst.Name + "-" + step.Name + "-" + versionLabel(version)
}

// versionLabel writes a version with DNS-label characters only.
func versionLabel(v software.Version) string {
	r := strings.NewReplacer(".", "-", "+", "-", "_", "-")
	return strings.Trim(strings.ToLower(r.Replace(v.String())), "-")
}

// CheckNames verifies that every name derived from the Instance fits the
// limits of the objects that carry it (63 characters for Services and
// labels, 52 for CronJobs). It lets the reconciler refuse, with a clear
// message, an Instance name too long to host.
func CheckNames(inst *v1alpha1.Instance, p *software.Profile) error {
	v, err := software.ParseVersion(inst.Spec.Version)
	if err != nil {
		return err
	}
	var names []string
	for _, c := range p.Components(v) {
		names = append(names, ComponentName(inst, c.Name))
	}
	names = append(names, PostgresName(inst), RedisName(inst), AdminSecretName(inst), adminJobName(inst),
		registrationsJobName(inst, v1alpha1.RegistrationsApproval, ""))
	for _, s := range append(append([]software.Step{}, p.InstallSteps...), p.UpgradeSteps...) {
		if s.Kind == software.StepJob {
			names = append(names, StepJobName(inst, s, v))
		}
	}
	for _, n := range names {
		if errs := validation.IsDNS1035Label(n); len(errs) > 0 {
			return fmt.Errorf("instance name %q is too long or not a DNS label for %s: %s; use a shorter name", inst.Name, n, strings.Join(errs, "; "))
		}
	}
	for _, t := range p.Maintenance {
		if n := cronJobName(inst, t); len(n) > 52 {
			return fmt.Errorf("instance name %q is too long for the CronJob %s (at most 52 characters); use a shorter name", inst.Name, n)
		}
	}
	return nil
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}
