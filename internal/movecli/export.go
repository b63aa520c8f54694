package movecli

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/bundle"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/tenancy"
)

// Export reads community name from the cluster c (server is its address,
// recorded as the bundle's source) into a Bundle. Notes for the sysadmin
// are in Manifest.Notes.
func Export(ctx context.Context, c client.Client, server, name, createdBy string, now time.Time) (*bundle.Bundle, error) {
	community := &v1alpha1.Community{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, community); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("there is no Community %q on %s (kubectl get communities lists them)", name, server)
		}
		return nil, explain(err, "read Community "+name)
	}
	ns := tenancy.NamespaceOf(community)
	b := &bundle.Bundle{
		Manifest: bundle.Manifest{Community: name, Namespace: ns, SourceCluster: server,
			CreatedAt: now.UTC().Truncate(time.Second), CreatedBy: createdBy},
		Community: bundle.CleanCommunity(community),
		Secrets:   []corev1.Secret{},
	}
	m := &b.Manifest
	if community.DeletionTimestamp != nil {
		m.Notes = append(m.Notes, fmt.Sprintf("Community %s is being deleted: the bundle holds what was left of it", name))
	}

	instances := &v1alpha1.InstanceList{}
	if err := c.List(ctx, instances, client.InNamespace(ns)); err != nil {
		return nil, explain(err, "list the Instances in namespace "+ns)
	}
	sort.Slice(instances.Items, func(i, j int) bool { return instances.Items[i].Name < instances.Items[j].Name })
	for i := range instances.Items {
		in := &instances.Items[i]
		entry := bundle.InstanceEntry{Name: in.Name, Software: string(in.Spec.Software), Domain: string(in.Spec.Domain), Backup: bundle.LatestBackup(in)}
		m.Instances = append(m.Instances, entry)
		b.Instances = append(b.Instances, *bundle.CleanInstance(in))
		m.ReferencedSecrets = append(m.ReferencedSecrets, bundle.ReferencedSecrets(in)...)
		if in.Spec.External != nil {
			continue
		}
		switch {
		case entry.Backup == nil:
			m.Notes = append(m.Notes, fmt.Sprintf("Instance %s has no successful backup (status.backup): imported, it starts with an empty database; set spec.backup and wait for one, or move its data by hand", in.Name))
		case entry.Backup.From == nil:
			m.Notes = append(m.Notes, fmt.Sprintf("Instance %s's latest backup %s is at %s, but its spec.backup no longer says where backups go: set spec.restore.from by hand before importing", in.Name, entry.Backup.Name, entry.Backup.Location))
		case entry.Backup.From.PVC != nil:
			m.Notes = append(m.Notes, fmt.Sprintf("Instance %s's latest backup %s is on PersistentVolumeClaim %s of this cluster: copy the claim's %s directory to a claim of the same name in namespace %s on the new cluster before importing", in.Name, entry.Backup.Name, entry.Backup.From.PVC.ClaimName, backupDir(in.Name, entry.Backup.From.PVC), ns))
		}
		secrets, err := generatedSecrets(ctx, c, in)
		if err != nil {
			return nil, err
		}
		for _, s := range secrets {
			b.Secrets = append(b.Secrets, bundle.CleanSecret(&s))
			m.Secrets = append(m.Secrets, bundle.SecretEntry{Name: s.Name, Instance: in.Name})
		}
	}

	policies := &v1alpha1.FederationPolicyList{}
	if err := c.List(ctx, policies, client.InNamespace(ns)); err != nil {
		return nil, explain(err, "list the FederationPolicies in namespace "+ns)
	}
	sort.Slice(policies.Items, func(i, j int) bool { return policies.Items[i].Name < policies.Items[j].Name })
	for i := range policies.Items {
		p := &policies.Items[i]
		m.Policies = append(m.Policies, p.Name)
		b.Policies = append(b.Policies, *bundle.CleanPolicy(p))
		if p.Spec.Review != nil {
			m.Notes = append(m.Notes, fmt.Sprintf("FederationPolicy %s is reviewed (spec.review): proposals and approvals are not carried; on the new cluster the operator proposes what differs from the servers again", p.Name))
		}
	}
	if err := trust(ctx, c, b); err != nil {
		return nil, err
	}
	return b, nil
}

// backupDir is where an Instance's backups are on a backup claim.
func backupDir(instance string, pvc *v1alpha1.BackupPVC) string {
	if pvc.SubPath != "" {
		return pvc.SubPath
	}
	return instance
}

// generatedSecrets reads, by name as the operator does, the Secrets it
// generated or obtained for a hosted Instance. Only those the operator
// labelled for this Instance are taken: a person's Secret that happens to
// have such a name is not the operator's to move.
func generatedSecrets(ctx context.Context, c client.Client, in *v1alpha1.Instance) ([]corev1.Secret, error) {
	var out []corev1.Secret
	for _, name := range resources.RetainedSecretNames(in.Name) {
		s := &corev1.Secret{}
		err := c.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: name}, s)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, explain(err, fmt.Sprintf("read Secret %s/%s (export carries the generated keys and passwords, encrypted)", in.Namespace, name))
		}
		if s.Labels[v1alpha1.LabelInstance] != in.Name || s.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue {
			continue
		}
		out = append(out, *s)
	}
	return out, nil
}

// trust records the subscriptions between this community's policies and
// other communities' (spec.sources[].policyRef), both ways.
func trust(ctx context.Context, c client.Client, b *bundle.Bundle) error {
	m := &b.Manifest
	for _, p := range b.Policies {
		for _, s := range p.Spec.Sources {
			if s.PolicyRef == nil || s.PolicyRef.Namespace == m.Namespace {
				continue
			}
			m.Trust = append(m.Trust, bundle.TrustRelation{Direction: bundle.SubscribesTo, Policy: p.Name,
				Other: s.PolicyRef.Namespace + "/" + s.PolicyRef.Name, Source: s.Name, Weight: s.Weight})
		}
	}
	all := &v1alpha1.FederationPolicyList{}
	if err := c.List(ctx, all); err != nil {
		m.Notes = append(m.Notes, "could not list other communities' policies, so those that subscribe to this community's are not named: "+err.Error())
		return nil
	}
	sort.Slice(all.Items, func(i, j int) bool {
		return all.Items[i].Namespace+"/"+all.Items[i].Name < all.Items[j].Namespace+"/"+all.Items[j].Name
	})
	for _, p := range all.Items {
		if p.Namespace == m.Namespace {
			continue
		}
		for _, s := range p.Spec.Sources {
			if s.PolicyRef != nil && s.PolicyRef.Namespace == m.Namespace {
				m.Trust = append(m.Trust, bundle.TrustRelation{Direction: bundle.SubscribedBy, Policy: s.PolicyRef.Name,
					Other: p.Namespace + "/" + p.Name, Source: s.Name, Weight: s.Weight})
			}
		}
	}
	return nil
}

// explain says what an API error means for the person running the command.
func explain(err error, what string) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("cannot %s: the API server refused (%v); moving a community needs a co-op sysadmin's kubeconfig", what, err)
	}
	return fmt.Errorf("cannot %s: %w", what, err)
}
