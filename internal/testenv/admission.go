package testenv

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fedcommons/fedcommons/config"
)

// InstallAdmissionPolicy creates config/admission's objects (the same
// bytes `kubectl apply -k config/default` and the chart ship) and waits
// until the API server enforces them: a policy is compiled and picked up
// a moment after it is created, and a spec that ran before would see
// approvals admitted that the policy refuses. The CRDs must be
// established; c must be an admin.
func InstallAdmissionPolicy(ctx context.Context, c client.Client) error {
	objs, err := readObjectsFrom(config.AdmissionPolicy, "config/admission/policyapprovals.yaml")
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("config/admission: create %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	// The probe: an admin's approval in someone else's name, dry run.
	probe := func() *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "fedcommons.io/v1alpha1", "kind": "PolicyApproval",
			"metadata": map[string]any{"namespace": "default", "name": "probe.nobody"},
			"spec": map[string]any{
				"proposal": "probe", "hash": "h", "decision": "Approve", "approver": "nobody",
			},
		}}
		return u
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		last = c.Create(ctx, probe(), client.DryRunAll)
		return apierrors.IsForbidden(last) && strings.Contains(last.Error(), "fedcommons-policyapprovals"), nil
	})
	if err != nil {
		return fmt.Errorf("the admission policy fedcommons-policyapprovals is not enforced after a minute (last answer to a forged approval: %v)", last)
	}
	return nil
}

// InstallCommunityRoles creates the ClusterRoles a Community's members are
// bound to (config/rbac/community_roles.yaml, as shipped), so that a test
// binding a user to one checks what the product grants, not a copy.
func InstallCommunityRoles(ctx context.Context, c client.Client) error {
	objs, err := readObjectsFrom(config.CommunityRoles, "config/rbac/community_roles.yaml")
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("config/rbac: create %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}
