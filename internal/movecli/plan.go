package movecli

import (
	"bytes"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/bundle"
)

// step is one object import creates, in order.
type step struct {
	obj client.Object
	// kind and what are for messages: "Secret", "riverside/toot-secrets".
	kind, what string
	// detail is said after "created ...", such as "(restores backup X)".
	detail string
	// sealed: a Secret whose values are still encrypted (a dry run
	// without --identity); it is named, never compared or created.
	sealed bool
}

// steps are the objects to create, in the order that lets the operator
// adopt the Secrets: Community, Secrets, Instances, FederationPolicies.
func steps(b *bundle.Bundle) []step {
	ns := b.Manifest.Namespace
	out := []step{{obj: b.Community.DeepCopy(), kind: "Community", what: b.Community.Name,
		detail: fmt.Sprintf("(namespace %s)", ns)}}
	if b.Secrets == nil {
		for _, e := range b.Manifest.Secrets {
			s := &corev1.Secret{}
			s.Name, s.Namespace = e.Name, ns
			out = append(out, step{obj: s, kind: "Secret", what: ns + "/" + e.Name, sealed: true,
				detail: "(sealed: its values are read with --identity)"})
		}
	}
	for i := range b.Secrets {
		s := b.Secrets[i].DeepCopy()
		detail := "(" + plural(len(s.Data), "key")
		if s.Immutable != nil && *s.Immutable {
			detail += ", immutable"
		}
		out = append(out, step{obj: s, kind: "Secret", what: ns + "/" + s.Name, detail: detail + ")"})
	}
	for i := range b.Instances {
		backup := b.Manifest.Instances[i].Backup
		in := bundle.RestoreFrom(&b.Instances[i], backup)
		detail := ""
		switch {
		case in.Spec.External != nil:
			detail = "(external server: moderation only)"
		case in.Spec.Restore != nil:
			detail = fmt.Sprintf("(restores backup %s)", in.Spec.Restore.From.Name)
		default:
			detail = "(no backup in the bundle: starts empty)"
		}
		out = append(out, step{obj: in, kind: "Instance", what: ns + "/" + in.Name, detail: detail})
	}
	for i := range b.Policies {
		p := b.Policies[i].DeepCopy()
		out = append(out, step{obj: p, kind: "FederationPolicy", what: ns + "/" + p.Name,
			detail: fmt.Sprintf("(%s, %s)", plural(len(p.Spec.Entries), "entry"), plural(len(p.Spec.Sources), "source"))})
	}
	return out
}

// sameAs says whether live, found on the cluster, is what the step would
// create; if not, how it differs. Only what a person declared is compared
// (spec; a Secret's type and data): status and identity differ by nature.
func sameAs(want, live client.Object) (bool, string) {
	if live.GetDeletionTimestamp() != nil {
		return false, "is being deleted; wait until it is gone"
	}
	switch w := want.(type) {
	case *v1alpha1.Community:
		return equality.Semantic.DeepEqual(w.Spec, live.(*v1alpha1.Community).Spec), "has another spec"
	case *v1alpha1.Instance:
		return equality.Semantic.DeepEqual(w.Spec, live.(*v1alpha1.Instance).Spec), "has another spec"
	case *v1alpha1.FederationPolicy:
		return equality.Semantic.DeepEqual(w.Spec, live.(*v1alpha1.FederationPolicy).Spec), "has another spec"
	case *corev1.Secret:
		l := live.(*corev1.Secret)
		same := w.Type == l.Type && maps.EqualFunc(w.Data, l.Data, bytes.Equal)
		return same, "holds other values (never overwritten: data encrypted with the old values would become unreadable)"
	}
	return false, "is of an unexpected kind"
}

// empty returns a new object of the step's kind to read the live one into.
func empty(obj client.Object) client.Object {
	switch obj.(type) {
	case *v1alpha1.Community:
		return &v1alpha1.Community{}
	case *v1alpha1.Instance:
		return &v1alpha1.Instance{}
	case *v1alpha1.FederationPolicy:
		return &v1alpha1.FederationPolicy{}
	default:
		return &corev1.Secret{}
	}
}

// plural writes "1 key", "2 keys", "1 entry", "3 entries".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	if w, ok := strings.CutSuffix(word, "y"); ok && !strings.HasSuffix(w, "e") {
		return fmt.Sprintf("%d %sies", n, w)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
