package controllers

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
)

// hasKind reports whether the API server serves a kind (optional
// integrations: cert-manager, Gateway API). Watching a kind whose CRD is
// missing would fail the whole manager.
func hasKind(mgr ctrl.Manager, gvk schema.GroupVersionKind) bool {
	_, err := mgr.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	return err == nil
}
