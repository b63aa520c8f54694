package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// patchStatus writes obj's status if this pass changed it: steady state
// costs no write. status points at obj's status field; before is the copy
// taken when the pass began. The merge patch is computed against obj with
// the old status swapped in, so it carries status changes only.
func patchStatus[S any](ctx context.Context, c client.Client, obj client.Object, status, before *S) error {
	if equality.Semantic.DeepEqual(before, status) {
		return nil
	}
	after := *status
	*status = *before
	base := obj.DeepCopyObject().(client.Object)
	*status = after
	return client.IgnoreNotFound(c.Status().Patch(ctx, obj, client.MergeFrom(base)))
}
