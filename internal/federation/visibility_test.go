package federation

import (
	"maps"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// TestVisibilityIsNotLaundered (issue 12 case 11): a public policy that
// reads a cluster-only one through a policyRef marks what it got from it
// cluster-only, and passes the mark on to its own public subscribers, so
// no chain of public policies re-publishes it to the world. Its own
// decisions and what public sources alone gave it stay public.
func TestVisibilityIsNotLaundered(t *testing.T) {
	river := types.NamespacedName{Namespace: "riverside", Name: "public"}
	suspend := func(domains ...string) []moderation.Entry {
		var out []moderation.Entry
		for _, d := range domains {
			out = append(out, moderation.Entry{Domain: d, Action: moderation.Suspend})
		}
		return out
	}

	// hillside's policy, published to the cluster only.
	internal := compute(t, policy("internal", nil), nil)
	internal.Effective, _ = moderation.Merge(moderation.MergeInput{Local: suspend("secret.example", "shared.example", "own.example")})
	internal.Visibility = v1alpha1.VisibilityCluster
	internal.Restrict(nil)
	if internal.ClusterOnly != nil {
		t.Fatalf("a policy's own decisions are never restricted: %v", internal.ClusterOnly)
	}

	// riverside's public policy reads it, a public list, and decides
	// own.example itself.
	p := policy("public", nil, v1alpha1.PolicyEntry{Domain: "own.example", Action: v1alpha1.ActionSuspend})
	p.Spec.Sources = []v1alpha1.PolicySource{{Name: "hill"}, {Name: "list"}}
	fromHill := internal.ReadBy(river, v1alpha1.VisibilityCluster)
	fromHill.Name = "hill"
	if !fromHill.ClusterOnly {
		t.Fatal("reading a cluster policy is a cluster-only source")
	}
	resolved := []ResolvedSource{fromHill, {Name: "list", Entries: suspend("shared.example", "listed.example")}}
	public := compute(t, p, resolved)
	public.Visibility = v1alpha1.VisibilityPublic
	plainHash := public.Hash
	public.Restrict(resolved)
	want := []string{"secret.example", "shared.example"}
	if got := slices.Sorted(maps.Keys(public.ClusterOnly)); !slices.Equal(got, want) {
		t.Errorf("cluster-only %v, want %v: what the cluster policy listed (even with a public source too), never our own decision", got, want)
	}
	if public.Hash == plainHash {
		t.Error("the hash of a public policy must change with what it withholds: its subscribers watch it")
	}

	// A public subscriber of the public policy: the mark goes on.
	p2 := policy("again", nil)
	p2.Namespace = "lakeside"
	p2.Spec.Sources = []v1alpha1.PolicySource{{Name: "river"}}
	fromRiver := public.ReadBy(types.NamespacedName{Namespace: "lakeside", Name: "again"}, v1alpha1.VisibilityPublic)
	fromRiver.Name = "river"
	if fromRiver.ClusterOnly {
		t.Fatal("reading a public policy is not cluster-only as a whole")
	}
	again := compute(t, p2, []ResolvedSource{fromRiver})
	again.Visibility = v1alpha1.VisibilityPublic
	again.Restrict([]ResolvedSource{fromRiver})
	if got := slices.Sorted(maps.Keys(again.ClusterOnly)); !slices.Equal(got, want) {
		t.Errorf("second hop: cluster-only %v, want %v", got, want)
	}

	// Once hillside publishes its policy, nothing is withheld and the
	// hash is the engine's again.
	fromHill = internal.ReadBy(river, v1alpha1.VisibilityPublic)
	fromHill.Name = "hill"
	resolved[0] = fromHill
	public = compute(t, p, resolved)
	public.Visibility = v1alpha1.VisibilityPublic
	public.Restrict(resolved)
	if public.ClusterOnly != nil || public.Hash != plainHash {
		t.Errorf("a public source restricts nothing: %v, hash %s want %s", public.ClusterOnly, public.Hash, plainHash)
	}

	// A cluster policy keeps its engine hash: its feeds never reach the
	// public listener, and its readers mark the whole source.
	fromHill = internal.ReadBy(river, v1alpha1.VisibilityCluster)
	fromHill.Name = "hill"
	resolved[0] = fromHill
	cluster := compute(t, p, resolved)
	cluster.Visibility = v1alpha1.VisibilityCluster
	cluster.Restrict(resolved)
	if cluster.Hash != plainHash || len(cluster.ClusterOnly) != 2 {
		t.Errorf("cluster policy: hash %s (want %s), cluster-only %v", cluster.Hash, plainHash, cluster.ClusterOnly)
	}
}
