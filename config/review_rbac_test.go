package config

// Reviewed moderation's rights (issue 17): who may decide on a proposal is
// RBAC's `approve` verb on federationpolicies, which the admission policy
// in admission/ checks; the envtest specs in controllers/
// review_admission_test.go prove it on a real API server.

import (
	"os"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestReviewRights(t *testing.T) {
	want := map[string]map[string][]string{
		"fedcommons-community-admin": {
			"fedcommons.io policyapprovals": {"create", "delete", "get", "list", "watch"},
			"fedcommons.io policyproposals": {"get", "list", "watch"},
		},
		"fedcommons-community-moderator": {
			"fedcommons.io policyapprovals": {"create", "delete", "get", "list", "watch"},
			"fedcommons.io policyproposals": {"get", "list", "watch"},
		},
		"fedcommons-community-viewer": {
			"fedcommons.io policyapprovals": {"get", "list", "watch"},
			"fedcommons.io policyproposals": {"get", "list", "watch"},
		},
	}
	mayApprove := map[string]bool{"fedcommons-community-admin": true, "fedcommons-community-moderator": true}
	for _, ro := range loadRoles(t, "rbac/community_roles.yaml") {
		g := grants(ro.rules)
		for key, verbs := range want[ro.name] {
			// No update or patch: a decision is not edited (the CRD
			// refuses spec changes too); proposals are the operator's.
			if !slices.Equal(g[key], verbs) {
				t.Errorf("%s: %s %v, want %v", ro.name, key, g[key], verbs)
			}
		}
		if got := slices.Contains(g["fedcommons.io federationpolicies"], "approve"); got != mayApprove[ro.name] {
			t.Errorf("%s: approve on federationpolicies is %v, want %v", ro.name, got, mayApprove[ro.name])
		}
	}
}

// TestAdmissionPolicyShips: the policy is in the one-apply install and
// covers what makes an approval a person's own.
func TestAdmissionPolicyShips(t *testing.T) {
	data, err := os.ReadFile("default/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil || !slices.Contains(k.Resources, "../admission") {
		t.Errorf("default/kustomization.yaml resources %v (%v): want ../admission", k.Resources, err)
	}
	var policy struct {
		Spec struct {
			FailurePolicy    string `json:"failurePolicy"`
			MatchConstraints struct {
				ResourceRules []struct {
					APIGroups  []string `json:"apiGroups"`
					Operations []string `json:"operations"`
					Resources  []string `json:"resources"`
				} `json:"resourceRules"`
			} `json:"matchConstraints"`
		} `json:"spec"`
	}
	doc := strings.SplitN(string(AdmissionPolicy), "\n---\n", 3)
	if len(doc) != 3 {
		t.Fatalf("admission/policyapprovals.yaml: want a comment, the policy and its binding")
	}
	if err := yaml.Unmarshal([]byte(doc[1]), &policy); err != nil {
		t.Fatal(err)
	}
	rules := policy.Spec.MatchConstraints.ResourceRules
	if policy.Spec.FailurePolicy != "Fail" || len(rules) != 1 || !slices.Equal(rules[0].APIGroups, []string{"fedcommons.io"}) ||
		!slices.Equal(rules[0].Resources, []string{"policyapprovals"}) || !slices.Equal(rules[0].Operations, []string{"CREATE", "DELETE"}) {
		t.Errorf("policy: failurePolicy %q rules %+v, want Fail on CREATE and DELETE of fedcommons.io policyapprovals", policy.Spec.FailurePolicy, rules)
	}
}
