package movecli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/bundle"
)

// ImportOptions shape an import.
type ImportOptions struct {
	// DryRun says what would be created, and creates nothing.
	DryRun bool
	// NamespaceWait bounds the wait for the operator to create the
	// community's namespace, and then for each object the namespace's new
	// quota refuses until it is counted (default 2 minutes).
	NamespaceWait time.Duration
}

// Import creates the bundle's objects on the cluster c, in order, saying
// each on out. Objects that exist already and are identical are kept;
// any that differ stop the import before anything is created.
func Import(ctx context.Context, c client.Client, server string, b *bundle.Bundle, o ImportOptions, out io.Writer) error {
	if b.Secrets == nil && !o.DryRun {
		return errors.New("the bundle's secrets are sealed: give the private key they were encrypted to with --identity")
	}
	if o.NamespaceWait <= 0 {
		o.NamespaceWait = 2 * time.Minute
	}
	plan := steps(b)
	exists := make([]bool, len(plan))
	var conflicts []string
	for i, s := range plan {
		live := empty(s.obj)
		err := c.Get(ctx, client.ObjectKeyFromObject(s.obj), live)
		switch {
		case apierrors.IsNotFound(err), meta.IsNoMatchError(err):
			continue
		case err != nil:
			return explain(err, fmt.Sprintf("check whether %s %s exists", s.kind, s.what))
		}
		if s.sealed {
			conflicts = append(conflicts, fmt.Sprintf("%s %s exists (its values are compared with the bundle's only with --identity)", s.kind, s.what))
			continue
		}
		same, why := sameAs(s.obj, live)
		if !same {
			conflicts = append(conflicts, fmt.Sprintf("%s %s exists and %s", s.kind, s.what, why))
			continue
		}
		exists[i] = true
	}
	if len(conflicts) > 0 {
		return fmt.Errorf("nothing was imported: %s already holds objects of this community that differ from the bundle's; an import never overwrites:\n  %s\nRemove them (or import into another cluster) and run the import again",
			server, strings.Join(conflicts, "\n  "))
	}
	verb := "created"
	if o.DryRun {
		verb = "would create"
		fmt.Fprintf(out, "Dry run: nothing is created on %s.\n", server)
	}
	for i, s := range plan {
		if exists[i] {
			fmt.Fprintf(out, "exists, identical: %s %s (kept)\n", s.kind, s.what)
			continue
		}
		if !o.DryRun {
			if err := create(ctx, c, s.obj, o.NamespaceWait); err != nil {
				return explain(err, fmt.Sprintf("create %s %s (created so far are kept; fix the cause and run the import again: identical objects are skipped)", s.kind, s.what))
			}
		}
		fmt.Fprintf(out, "%s %s %s %s\n", verb, s.kind, s.what, s.detail)
		if s.kind == "Community" && !o.DryRun {
			if err := waitNamespace(ctx, c, b, o.NamespaceWait); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitNamespace waits for the operator to create (or adopt) the
// community's namespace: the Secrets go there, before any Instance.
func waitNamespace(ctx context.Context, c client.Client, b *bundle.Bundle, wait time.Duration) error {
	ns := b.Manifest.Namespace
	deadline := time.Now().Add(wait)
	for {
		n := &corev1.Namespace{}
		err := c.Get(ctx, client.ObjectKey{Name: ns}, n)
		if err == nil && n.DeletionTimestamp == nil && n.Labels[v1alpha1.LabelCommunity] == b.Manifest.Community {
			return nil
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return explain(err, "read namespace "+ns)
		}
		if time.Now().After(deadline) {
			msg := ""
			live := &v1alpha1.Community{}
			if c.Get(ctx, client.ObjectKey{Name: b.Manifest.Community}, live) == nil {
				if cond := meta.FindStatusCondition(live.Status.Conditions, v1alpha1.ConditionReady); cond != nil {
					msg = fmt.Sprintf(" The Community says: %s", cond.Message)
				}
			}
			return fmt.Errorf("the Community was created, but its namespace %s was not ready within %s: is the fedcommons operator running on this cluster?%s Run the import again once it is: what exists is kept", ns, wait, msg)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// create creates obj, waiting while the namespace's ResourceQuota is new:
// the API server refuses every object a quota counts ("status unknown for
// quota") until the controller-manager has computed the quota's usage,
// which on a fresh namespace takes a moment (longer for a custom resource
// the quota controller discovers late).
func create(ctx context.Context, c client.Client, obj client.Object, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := c.Create(ctx, obj)
		if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "status unknown for quota") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
