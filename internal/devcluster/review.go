package devcluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/manager"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
	"github.com/fedcommons/fedcommons/internal/reviewcli"
)

// The review scene (issue 17) runs once everything is Ready. Riverside's
// policy asks two approvals for what its subscriptions add (spec.review in
// manifests/04-policies.yaml), and takes a domain only when both IFTAS and
// hillside list it. hillside's admin adds one that IFTAS already lists;
// riverside's merge now wants it, but it waits as a PolicyProposal until
// two of riverside's moderators approve it, each as themself, with the
// code of `fedcommons policy approve`; then riverside's servers get it.
//
// Every actor is an impersonated user, so the API server's own RBAC and
// admission policy decide what each may do, exactly as for kubectl.
const (
	sceneDomain = "activitypub-troll.cf"
	// sceneHillsideAdmin is hillside's admin (manifests/01-communities.yaml).
	sceneHillsideAdmin = "hana@hillside.example"
)

// sceneModerators approve riverside's proposal: one through the
// riverside-mods group (moderator role), one riverside's admin.
var sceneModerators = []rest.ImpersonationConfig{
	{UserName: "carol@riverside.example", Groups: []string{"riverside-mods"}},
	{UserName: "alice@riverside.example"},
}

// sceneLog collects what the scene says, for the table's frame: the demo
// redraws its screen, so the scene cannot print on its own.
type sceneLog struct {
	mu    sync.Mutex
	lines []string
	done  bool
	err   error
}

func (l *sceneLog) say(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *sceneLog) finish(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done, l.err = true, err
}

// text is the scene so far, and whether it has ended (and how).
func (l *sceneLog) text() (string, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines
	if l.err != nil {
		lines = append(slices.Clip(lines), "FAILED: "+l.err.Error())
	}
	if len(lines) == 0 {
		return "", l.done, l.err
	}
	return "\nReviewed moderation:\n  " + strings.Join(lines, "\n  ") + "\n", l.done, l.err
}

// runReviewScene plays the scene, saying each step on log.
func runReviewScene(ctx context.Context, cfg *rest.Config, c client.Client, riverside []*fakeAPI, log *sceneLog) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	as := func(who rest.ImpersonationConfig) (client.Client, *rest.Config, error) {
		imp := rest.CopyConfig(cfg)
		imp.Impersonate = who
		cl, err := client.New(imp, client.Options{Scheme: manager.Scheme()})
		return cl, imp, err
	}

	hana, _, err := as(rest.ImpersonationConfig{UserName: sceneHillsideAdmin})
	if err != nil {
		return err
	}
	policy := &v1alpha1.FederationPolicy{}
	if err := hana.Get(ctx, client.ObjectKey{Namespace: "hillside", Name: "shared-moderation"}, policy); err != nil {
		return fmt.Errorf("%s reads hillside's policy: %w", sceneHillsideAdmin, err)
	}
	base := policy.DeepCopy()
	policy.Spec.Entries = append(policy.Spec.Entries, v1alpha1.PolicyEntry{
		Domain: sceneDomain, Action: v1alpha1.ActionSuspend, PublicComment: "service abuse: fake accounts flooding replies",
	})
	if err := hana.Patch(ctx, policy, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("%s adds %s to hillside's policy: %w", sceneHillsideAdmin, sceneDomain, err)
	}
	log.say("%s (hillside's admin) suspends %s in hillside's policy; IFTAS lists it too, so riverside's consensus now wants it.", sceneHillsideAdmin, sceneDomain)

	var proposal v1alpha1.PolicyProposal
	if err := poll(ctx, func() (bool, error) {
		list := &v1alpha1.PolicyProposalList{}
		if err := c.List(ctx, list, client.InNamespace("riverside")); err != nil {
			return false, nil
		}
		for _, p := range list.Items {
			if p.Status.Phase == v1alpha1.ProposalPending && slices.ContainsFunc(p.Spec.Changes, func(ch v1alpha1.PolicyChange) bool { return ch.Domain == sceneDomain }) {
				proposal = p
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		return fmt.Errorf("no proposal in riverside for %s: %w", sceneDomain, err)
	}
	log.say("riverside's policy needs 2 approvals for that: proposal %s waits (`fedcommons policy review -n riverside`); its servers do not have %s (%s).",
		proposal.Name, sceneDomain, serversHolding(riverside))

	// What the first moderator sees, with the CLI's own code.
	if _, imp, err := as(sceneModerators[0]); err == nil {
		if s, err := reviewcli.NewSession(imp, "riverside"); err == nil {
			if pending, skipped, err := s.ListPending(ctx, false); err == nil {
				var b strings.Builder
				reviewcli.WriteReview(&b, pending, skipped, time.Now())
				log.say("%s runs `fedcommons policy review -n riverside`:\n      %s", sceneModerators[0].UserName,
					strings.ReplaceAll(strings.TrimRight(b.String(), "\n"), "\n", "\n      "))
			}
		}
	}
	for _, who := range sceneModerators {
		_, imp, err := as(who)
		if err != nil {
			return err
		}
		s, err := reviewcli.NewSession(imp, "riverside")
		if err != nil {
			return err
		}
		if _, err := s.Decide(ctx, proposal.Name, v1alpha1.DecisionApprove, "agreed at the weekly moderation call"); err != nil {
			return fmt.Errorf("%s approves %s: %w", who.UserName, proposal.Name, err)
		}
		log.say("%s approves it (`fedcommons policy approve %s -n riverside`).", who.UserName, proposal.Name)
	}

	if err := poll(ctx, func() (bool, error) {
		return len(holding(riverside)) == len(riverside), nil
	}); err != nil {
		return fmt.Errorf("%s never reached riverside's servers after two approvals: %w", sceneDomain, err)
	}
	applied := &v1alpha1.PolicyProposal{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(&proposal), applied); err == nil {
		log.say("proposal %s is %s; %s now suspend %s.", applied.Name, applied.Status.Phase, serversHolding(riverside), sceneDomain)
	}
	return nil
}

// holding lists the fake servers that block sceneDomain.
func holding(fakes []*fakeAPI) []string {
	var have []string
	for _, f := range fakes {
		if slices.ContainsFunc(f.Server.Blocks(), func(r fakeserver.Record) bool { return r.Domain == sceneDomain }) {
			have = append(have, f.Instance)
		}
	}
	return have
}

// serversHolding says which of the servers block sceneDomain.
func serversHolding(fakes []*fakeAPI) string {
	switch have := holding(fakes); len(have) {
	case 0:
		return "none holds it yet"
	case len(fakes):
		return strings.Join(have, " and ")
	default:
		return "only " + strings.Join(have, ", ")
	}
}

func poll(ctx context.Context, cond func() (bool, error)) error {
	return wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(context.Context) (bool, error) { return cond() })
}
