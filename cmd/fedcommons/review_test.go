package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/manager"
	"github.com/fedcommons/fedcommons/internal/testenv"
)

// reviewCluster is a real API server (RBAC on) with the CRDs, a reviewed
// policy in riverside, and kubeconfig files for people authenticated by
// client certificate: what `fedcommons policy review|approve|reject` read.
type reviewCluster struct {
	t     *testing.T
	ctx   context.Context
	env   *envtest.Environment
	admin client.Client
}

func startReviewCluster(t *testing.T) *reviewCluster {
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg := testenv.Start(t, env)
	c, err := client.New(cfg, client.Options{Scheme: manager.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	rc := &reviewCluster{t: t, ctx: context.Background(), env: env, admin: c}
	// The shipped community roles and admission policy: the CLI is
	// checked against what the product enforces. A moderator reviews and
	// decides; a viewer may read but not decide.
	if err := testenv.InstallCommunityRoles(rc.ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := testenv.InstallAdmissionPolicy(rc.ctx, c); err != nil {
		t.Fatal(err)
	}
	rc.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "riverside"}})
	for user, role := range map[string]string{"Alice@Example.org": "moderator", "oidc:bob_m": "moderator", "victor": "viewer"} {
		rc.create(&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: strings.NewReplacer("@", "-", ":", "-", "_", "-", ".", "-").Replace(strings.ToLower(user))},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "fedcommons-community-" + role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		})
	}
	two := int32(2)
	rc.create(&v1alpha1.FederationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "shared"},
		Spec: v1alpha1.FederationPolicySpec{
			Entries: []v1alpha1.PolicyEntry{{Domain: "own.example", Action: v1alpha1.ActionSuspend}},
			Review:  &v1alpha1.ReviewSpec{Required: 3, RejectionsRequired: &two},
		},
	})
	return rc
}

func (rc *reviewCluster) create(obj client.Object) {
	rc.t.Helper()
	if err := rc.admin.Create(rc.ctx, obj); err != nil {
		rc.t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// kubeconfig writes a kubeconfig file for user, authenticated by a client
// certificate the API server trusts, whose context's namespace is
// "default" (so -n is needed, as for most people).
func (rc *reviewCluster) kubeconfig(user string, groups ...string) string {
	rc.t.Helper()
	u, err := rc.env.AddUser(envtest.User{Name: user, Groups: groups}, nil)
	if err != nil {
		rc.t.Fatal(err)
	}
	b, err := u.KubeConfig()
	if err != nil {
		rc.t.Fatal(err)
	}
	path := filepath.Join(rc.t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		rc.t.Fatal(err)
	}
	return path
}

// proposal creates a pending proposal of policy shared with the change
// set an operator would write, hostile text included, and its status.
func (rc *reviewCluster) proposal(namespace, name string, age time.Duration, phase v1alpha1.ProposalPhase, approvals, rejections []v1alpha1.Vote) {
	rc.t.Helper()
	p := &v1alpha1.PolicyProposal{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: v1alpha1.PolicyProposalSpec{
			Policy: "shared", Hash: "sha256:" + name, ProposedAt: metav1.NewTime(time.Now().Add(-age)),
			ProposedBy: "source shared-blocklist",
			Summary:    v1alpha1.ChangeSummary{Added: 3, Escalated: 1, Removed: 1},
			Changes: []v1alpha1.PolicyChange{
				{Domain: "spam.example", After: "suspend", Why: "shared-blocklist (2) ≥ 2"},
				{Domain: "noisy.example", Before: "silence", After: "suspend", Why: "shared-blocklist (2) ≥ 2 \x1b]0;you have been pwned\x07\x1b[2J"},
			},
			Truncated:  true,
			ChangesURL: "http://fedcommons-feeds.fedcommons-system.svc/proposals/riverside/" + name + ".json",
		},
	}
	rc.create(p)
	p.Status = v1alpha1.PolicyProposalStatus{Phase: phase, Approvals: approvals, Rejections: rejections}
	if err := rc.admin.Status().Update(rc.ctx, p); err != nil {
		rc.t.Fatal(err)
	}
}

func policyCmd(args ...string) (string, error) {
	var out bytes.Buffer
	err := runPolicy(args, &out)
	return out.String(), err
}

// TestReviewAndDecide runs `fedcommons policy review`, `approve` and
// `reject` as people authenticated by the API server, and checks what
// they print and the PolicyApprovals they leave.
func TestReviewAndDecide(t *testing.T) {
	rc := startReviewCluster(t)
	alice, bob, victor := rc.kubeconfig("Alice@Example.org"), rc.kubeconfig("oidc:bob_m"), rc.kubeconfig("victor")
	rc.proposal("riverside", "shared-1", 3*time.Hour, v1alpha1.ProposalPending,
		[]v1alpha1.Vote{{User: "carol", Approval: "shared-1.carol", At: metav1.Now()}},
		[]v1alpha1.Vote{{User: "dave", Approval: "shared-1.dave", At: metav1.Now(), Comment: "wait"}})
	rc.proposal("riverside", "shared-0", 5*time.Hour, v1alpha1.ProposalApplied, nil, nil)

	out, err := policyCmd("review", "-n", "riverside", "--kubeconfig", alice)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"riverside/shared-1  policy shared, proposed 3h ago\n",
		"  3 added, 1 escalated, 0 relaxed, 1 removed\n",
		"  approvals: 1 of 3 required (carol)\n  rejections: 1 of 2 required (dave)\n",
		"    spam.example: none → suspend  (shared-blocklist (2) ≥ 2)\n",
		`    noisy.example: silence → suspend  (shared-blocklist (2) ≥ 2 \x1b]0;you have been pwned\a\x1b[2J)` + "\n",
		"  only the first 2 of 5 changes are listed here; the full set is at http://fedcommons-feeds.fedcommons-system.svc/proposals/riverside/shared-1.json (inside the cluster)\n",
		"  decide: fedcommons policy approve shared-1 -n riverside",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("review does not say %q:\n%s", want, out)
		}
	}
	t.Logf("review:\n%s", out)
	if strings.Contains(out, "shared-0") {
		t.Errorf("review lists a decided proposal:\n%s", out)
	}
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("review passes a terminal escape sequence through:\n%q", out)
	}

	// Alice approves: one PolicyApproval, named after the proposal and
	// her, with the hash she was shown and her name as the API server
	// authenticates it.
	out, err = policyCmd("approve", "shared-1", "-n", "riverside", "--kubeconfig", alice, "--comment", "checked the list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Recorded your approval of proposal riverside/shared-1 (policy shared, hash sha256:shared-1) as Alice@Example.org, in PolicyApproval shared-1.alice.example.org.") ||
		!strings.Contains(out, "Counted before yours: 1 of 3 required (carol).") {
		t.Errorf("approve says:\n%s", out)
	}
	a := &v1alpha1.PolicyApproval{}
	if err := rc.admin.Get(rc.ctx, client.ObjectKey{Namespace: "riverside", Name: "shared-1.alice.example.org"}, a); err != nil {
		t.Fatal(err)
	}
	want := v1alpha1.PolicyApprovalSpec{Proposal: "shared-1", Hash: "sha256:shared-1", Decision: v1alpha1.DecisionApprove, Approver: "Alice@Example.org", Comment: "checked the list"}
	if a.Spec != want {
		t.Errorf("approval %+v, want %+v", a.Spec, want)
	}

	// Twice is refused by the API server (the name is taken), said plainly.
	_, err = policyCmd("approve", "shared-1", "-n", "riverside", "--kubeconfig", alice)
	if err == nil || !strings.Contains(err.Error(), "you (Alice@Example.org) have already decided on proposal shared-1") {
		t.Errorf("a second approval: %v", err)
	}

	// Bob rejects, with a name that needs its ':' and '_' replaced.
	out, err = policyCmd("reject", "shared-1", "--namespace", "riverside", "--kubeconfig", bob)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Recorded your rejection of proposal riverside/shared-1") || !strings.Contains(out, "Counted before yours: 1 of 2 required (dave).") {
		t.Errorf("reject says:\n%s", out)
	}
	if err := rc.admin.Get(rc.ctx, client.ObjectKey{Namespace: "riverside", Name: "shared-1.oidc.bob-m"}, a); err != nil {
		t.Fatal(err)
	}
	if a.Spec.Decision != v1alpha1.DecisionReject || a.Spec.Approver != "oidc:bob_m" {
		t.Errorf("bob's rejection: %+v", a.Spec)
	}

	// A viewer is refused by the API server: its message, and who they are.
	_, err = policyCmd("approve", "shared-1", "-n", "riverside", "--kubeconfig", victor)
	if err == nil || !strings.Contains(err.Error(), `cannot create resource "policyapprovals"`) ||
		!strings.Contains(err.Error(), "(you are authenticated as victor)") {
		t.Errorf("a viewer's approval: %v", err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"approve", "shared-0", "-n", "riverside", "--kubeconfig", alice}, "proposal shared-0 is already decided (Applied)"},
		{[]string{"approve", "shared-9", "-n", "riverside", "--kubeconfig", alice}, "there is no proposal shared-9 in namespace riverside"},
		{[]string{"approve", "shared-1", "-n", "riverside", "--kubeconfig", alice, "--comment", strings.Repeat("x", 501)}, "holds 500 at most"},
		{[]string{"review", "--kubeconfig", victor}, `(you are authenticated as victor)`},
		{[]string{"review", "--all", "--kubeconfig", victor}, "name one with -n"},
		{[]string{"approve", "--kubeconfig", alice}, "needs the NAME of one proposal"},
		{[]string{"approve", "../../secrets/x", "-n", "riverside", "--kubeconfig", alice}, `"../../secrets/x" is not the name of a proposal`},
		{[]string{"review", "--all", "-n", "riverside"}, "either -n NAMESPACE or --all"},
	} {
		_, err := policyCmd(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}

	// Without --kubeconfig, $KUBECONFIG is read, as kubectl reads it; a
	// context that is not there is said.
	t.Setenv("KUBECONFIG", victor)
	if out, err := policyCmd("review", "-n", "riverside"); err != nil || !strings.Contains(out, "riverside/shared-1") {
		t.Errorf("review with $KUBECONFIG: %v\n%s", err, out)
	}
	if _, err := policyCmd("review", "-n", "riverside", "--context", "elsewhere"); err == nil || !strings.Contains(err.Error(), `context "elsewhere" does not exist`) {
		t.Errorf("review --context elsewhere: %v", err)
	}

	// The cluster's admin sees every namespace's proposals with --all,
	// and is told when a proposal's policy cannot be read.
	rc.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "hillside"}})
	rc.proposal("hillside", "shared-5", 90*time.Minute, v1alpha1.ProposalPending, nil, nil)
	root := rc.kubeconfig("root", "system:masters")
	out, err = policyCmd("review", "--all", "--kubeconfig", root)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"riverside/shared-1  policy shared", "approvals: 1 of 3 required (carol)\n",
		"hillside/shared-5  policy shared, proposed 1h ago\n",
		"hillside/shared-5  policy shared", "approvals: 0 (how many are required is unknown)", `(cannot read FederationPolicy hillside/shared: federationpolicies.fedcommons.io "shared" not found)`} {
		if !strings.Contains(out, want) {
			t.Errorf("review --all does not say %q:\n%s", want, out)
		}
	}

	// Oldest first, whatever the namespaces' names.
	if strings.Index(out, "riverside/shared-1") > strings.Index(out, "hillside/shared-5") {
		t.Errorf("review --all does not list the oldest first:\n%s", out)
	}

	// Someone who may list namespaces but read proposals in one only:
	// --all looks in each and says how many it could not read.
	rc.create(&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "list-namespaces"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list"}},
	}})
	rc.create(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "victor-lists-namespaces"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "list-namespaces"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "victor"}},
	})
	out, err = policyCmd("review", "--all", "--kubeconfig", victor)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "riverside/shared-1  policy shared") || strings.Contains(out, "hillside/") ||
		!regexp.MustCompile(`\n\d+ namespaces were skipped: you may not list proposals there\.\n$`).MatchString(out) {
		t.Errorf("review --all of someone who may read one namespace:\n%s", out)
	}
}
