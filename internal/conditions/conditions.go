// Package conditions keeps the kstatus trio (Ready, Reconciling, Stalled)
// and domain conditions consistent on our objects' statuses, so that
// `kubectl wait --for=condition=Ready`, Argo CD and Flux health checks read
// them the way they read any well-behaved object. It also says, the same
// way in every reconciler, why a pass stopped short (errors.go: Stalled,
// Waiting, Retrying, and Record writing them); the reasons themselves are
// API, constants in api/v1alpha1.
package conditions

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// Set records a condition. meta.SetStatusCondition keeps the transition
// time when the status does not change, so repeated passes write nothing.
func Set(conds *[]metav1.Condition, generation int64, condType string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: generation,
	})
}

// MarkReady says the object is what its spec asks for: Ready=True, and
// kstatus' abnormal-true conditions Reconciling and Stalled are removed.
func MarkReady(conds *[]metav1.Condition, generation int64, reason, message string) {
	Set(conds, generation, v1alpha1.ConditionReady, metav1.ConditionTrue, reason, message)
	meta.RemoveStatusCondition(conds, v1alpha1.ConditionReconciling)
	meta.RemoveStatusCondition(conds, v1alpha1.ConditionStalled)
}

// MarkReconciling says the operator is still moving towards the spec.
func MarkReconciling(conds *[]metav1.Condition, generation int64, reason, message string) {
	Set(conds, generation, v1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, message)
	Set(conds, generation, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	meta.RemoveStatusCondition(conds, v1alpha1.ConditionStalled)
}

// MarkStalled says retrying cannot help until a person acts; the message
// must tell them what to fix.
func MarkStalled(conds *[]metav1.Condition, generation int64, reason, message string) {
	Set(conds, generation, v1alpha1.ConditionStalled, metav1.ConditionTrue, reason, message)
	Set(conds, generation, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	meta.RemoveStatusCondition(conds, v1alpha1.ConditionReconciling)
}

// IsTrue reports whether the condition is present and True.
func IsTrue(conds []metav1.Condition, condType string) bool {
	return meta.IsStatusConditionTrue(conds, condType)
}
