package movecli

import (
	"context"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/bundle"
)

// WriteContents says what a bundle holds, for people: never a secret's
// value, only names.
func WriteContents(out io.Writer, b *bundle.Bundle) {
	m := &b.Manifest
	fmt.Fprintf(out, "Community %s (namespace %s), exported from %s at %s by %s\n",
		m.Community, m.Namespace, m.SourceCluster, m.CreatedAt.UTC().Format("2006-01-02 15:04:05 MST"), m.CreatedBy)
	fmt.Fprintf(out, "  %s:\n", plural(len(m.Instances), "Instance"))
	for _, in := range m.Instances {
		backup := "no backup"
		if in.Backup != nil {
			backup = "latest backup " + in.Backup.Name
			if in.Backup.Location != "" {
				backup += " at " + in.Backup.Location
			}
		}
		fmt.Fprintf(out, "    %-20s %-10s %-32s %s\n", in.Name, in.Software, in.Domain, backup)
	}
	fmt.Fprintf(out, "  %s: %s\n", plural(len(m.Policies), "FederationPolicy"), strings.Join(m.Policies, ", "))
	names := make([]string, 0, len(m.Secrets))
	for _, s := range m.Secrets {
		names = append(names, s.Name)
	}
	fmt.Fprintf(out, "  %s, encrypted to %s: %s\n", plural(len(m.Secrets), "generated Secret"), plural(len(m.Recipients), "age recipient"), strings.Join(names, ", "))
	for _, t := range m.Trust {
		switch t.Direction {
		case bundle.SubscribesTo:
			fmt.Fprintf(out, "  trust: policy %s subscribes to %s (source %s%s)\n", t.Policy, t.Other, t.Source, weight(t.Weight))
		default:
			fmt.Fprintf(out, "  trust: %s subscribes to this community's policy %s (source %s%s); it stays on the old cluster\n", t.Other, t.Policy, t.Source, weight(t.Weight))
		}
	}
	for _, r := range m.ReferencedSecrets {
		fmt.Fprintf(out, "  not carried: Secret %s (%s), provided by the community's admins\n", r.Name, r.UsedBy)
	}
	for _, n := range m.Notes {
		fmt.Fprintf(out, "  note: %s\n", n)
	}
}

func weight(w *int32) string {
	if w == nil {
		return ""
	}
	return fmt.Sprintf(", weight %d", *w)
}

// WriteToDo says what the import left for the sysadmin to do on the new
// cluster: Secrets the bundle does not carry that are missing, policies
// subscribed to that are not there, backups to copy.
func WriteToDo(ctx context.Context, c client.Client, b *bundle.Bundle, out io.Writer) error {
	m := &b.Manifest
	var todo []string
	for _, r := range m.ReferencedSecrets {
		err := c.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: r.Name}, &corev1.Secret{})
		switch {
		case apierrors.IsNotFound(err):
			todo = append(todo, fmt.Sprintf("create Secret %s/%s (%s): the bundle does not carry it, and the Instance waits for it", m.Namespace, r.Name, r.UsedBy))
		case err != nil:
			return explain(err, "read Secret "+m.Namespace+"/"+r.Name)
		}
	}
	for _, t := range m.Trust {
		if t.Direction != bundle.SubscribesTo {
			todo = append(todo, fmt.Sprintf("on the old cluster, %s subscribed to policy %s of this community: its owners should follow it here (its published feed) instead", t.Other, t.Policy))
			continue
		}
		ns, name := splitRef(t.Other)
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &v1alpha1.FederationPolicy{})
		switch {
		case apierrors.IsNotFound(err):
			todo = append(todo, fmt.Sprintf("policy %s subscribes to %s (source %s), which is not on this cluster: that source lists nothing until it is, or point it at the policy's published feed (a url source)", t.Policy, t.Other, t.Source))
		case err != nil:
			return explain(err, "read FederationPolicy "+t.Other)
		}
	}
	for _, in := range m.Instances {
		if in.Backup != nil && in.Backup.From != nil && in.Backup.From.PVC != nil {
			todo = append(todo, fmt.Sprintf("Instance %s restores backup %s from PersistentVolumeClaim %s/%s: it must hold a copy of the old cluster's %s directory", in.Name, in.Backup.Name, m.Namespace, in.Backup.From.PVC.ClaimName, backupDir(in.Name, in.Backup.From.PVC)))
		}
	}
	if len(todo) == 0 {
		return nil
	}
	fmt.Fprintln(out, "Still to do on this cluster:")
	for _, t := range todo {
		fmt.Fprintf(out, "  - %s\n", t)
	}
	return nil
}

func splitRef(s string) (string, string) {
	for i := range s {
		if s[i] == '/' {
			return s[:i], s[i+1:]
		}
	}
	return "", s
}
