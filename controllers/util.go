package controllers

import (
	"math/rand/v2"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
)

// jitter spreads periodic work by up to ±10% so that many objects created
// together do not wake together.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	spread := int64(d) / 10
	return d + time.Duration(rand.Int64N(2*spread+1)-spread)
}

// hasKind reports whether the API server serves a kind (optional
// integrations: cert-manager, Gateway API). Watching a kind whose CRD is
// missing would fail the whole manager.
func hasKind(mgr ctrl.Manager, gvk schema.GroupVersionKind) bool {
	_, err := mgr.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	return err == nil
}
