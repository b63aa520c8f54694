package controllers

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Options are the operator-wide settings the reconcilers share.
type Options struct {
	// OperatorNamespace is where the operator runs (admitted by every
	// community's isolation policy so it can reach admin APIs).
	OperatorNamespace string

	// IngressNamespaceSelector selects the ingress controller's namespaces
	// for communities that do not name their own.
	IngressNamespaceSelector *metav1.LabelSelector

	// DriftCheckInterval is how often servers are compared with their
	// policy when an Instance does not say (jittered).
	DriftCheckInterval time.Duration
}

// WithDefaults fills unset options.
func (o Options) WithDefaults() Options {
	if o.OperatorNamespace == "" {
		o.OperatorNamespace = "fedcommons-system"
	}
	if o.IngressNamespaceSelector == nil {
		o.IngressNamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{
			"kubernetes.io/metadata.name": "ingress-nginx",
		}}
	}
	if o.DriftCheckInterval == 0 {
		o.DriftCheckInterval = 30 * time.Minute
	}
	return o
}
