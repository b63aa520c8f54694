package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/tenancy"
)

// checkTenancy refuses an Instance that names what its community was not
// given: a domain outside the Community's spec.domains, or an annotation,
// issuer or gateway the operator's tenancy limits do not allow. An
// Instance in a namespace no Community owns was written by the co-op's
// sysadmins, so only the validity of its names is checked.
func (r *InstanceReconciler) checkTenancy(ctx context.Context, inst *v1alpha1.Instance) error {
	var community *v1alpha1.Community
	if name := inst.Status.Community; name != "" {
		community = &v1alpha1.Community{}
		if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, community); err != nil {
			if !apierrors.IsNotFound(err) {
				return err
			}
			return conditions.Stall(v1alpha1.ReasonCommunityNotFound, fmt.Sprintf(
				"namespace %s belongs to Community %s, which does not exist; its Instances wait until it does", inst.Namespace, name))
		}
	}
	refused := tenancy.CheckDomains(community, inst)
	if refused == nil && community != nil {
		refused = r.Options.Tenancy.CheckLimits(inst)
	}
	if refused != nil {
		return conditions.Stall(refused.Reason, refused.Message)
	}
	return nil
}

// checkDomain refuses an Instance whose domain or accountDomain another
// Instance in the cluster already claims as its domain or accountDomain
// (see federation.ClaimHolder), and the refused Instance touches nothing. Both names
// are claimed: two servers answering for the same handles
// (@alice@riverside.example) would split one community's accounts.
// claimSettle is how long the winner of a contested claim waits before
// creating anything: long enough for a rival's first pass, under way when
// the claim was first decided, to finish and write its status.
const claimSettle = 5 * time.Second

func (r *InstanceReconciler) checkDomain(ctx context.Context, inst *v1alpha1.Instance) error {
	claims := []*v1alpha1.Instance{}
	seen := map[types.UID]bool{}
	for _, name := range claimedNames(inst) {
		list := &v1alpha1.InstanceList{}
		if err := r.Client.List(ctx, list, client.MatchingFields{domainIndex: name}); err != nil {
			return nil // the next pass checks again; listing the cache does not fail in practice
		}
		for i := range list.Items {
			if it := &list.Items[i]; it.DeletionTimestamp.IsZero() && !seen[it.UID] {
				seen[it.UID] = true
				claims = append(claims, it)
			}
		}
	}
	if len(claims) < 2 {
		return nil
	}
	first := federation.ClaimHolder(claims)
	if first.UID == inst.UID {
		if federation.Holds(inst) || federation.ClaimPending(inst) {
			// It already holds the names, or has now won twice,
			// claimSettle apart: go ahead.
			return nil
		}
		other := claims[0]
		if other.UID == inst.UID {
			other = claims[1]
		}
		return conditions.Wait(v1alpha1.ReasonDomainClaimPending, fmt.Sprintf(
			"Instance %s/%s claims domain %s too; deciding again in %s, before creating anything, so that a server already starting keeps it",
			other.Namespace, other.Name, strings.Join(sharedNames(inst, other), ", "), claimSettle), claimSettle)
	}
	return conditions.Stall(v1alpha1.ReasonDomainTaken, fmt.Sprintf(
		"domain %s is already served by Instance %s/%s; each domain (and account domain) can have one Instance in the cluster", strings.Join(sharedNames(inst, first), ", "), first.Namespace, first.Name))
}

// claimedNames are the names an Instance claims: its domain and, if set,
// its accountDomain.
func claimedNames(inst *v1alpha1.Instance) []string {
	names := []string{string(inst.Spec.Domain)}
	if a := string(inst.Spec.AccountDomain); a != "" && a != names[0] {
		names = append(names, a)
	}
	return names
}

func sharedNames(a, b *v1alpha1.Instance) []string {
	var out []string
	for _, n := range claimedNames(a) {
		if slices.Contains(claimedNames(b), n) {
			out = append(out, n)
		}
	}
	return out
}

// secretRef is a Secret the sysadmin provides and the spec refers to.
type secretRef struct {
	field, name string
	keys        []string
}

// referencedSecrets lists the sysadmin's Secrets a hosted Instance needs.
func referencedSecrets(inst *v1alpha1.Instance) []secretRef {
	var refs []secretRef
	orDefault := func(key, def string) string {
		if key == "" {
			return def
		}
		return key
	}
	s := inst.Spec
	if s.Database != nil && s.Database.Postgres != nil && s.Database.Postgres.External != nil {
		ref := s.Database.Postgres.External.PasswordSecretRef
		refs = append(refs, secretRef{"spec.database.postgres.external.passwordSecretRef", ref.Name, []string{orDefault(ref.Key, "password")}})
	}
	if s.Redis != nil && s.Redis.External != nil && s.Redis.External.PasswordSecretRef != nil {
		ref := s.Redis.External.PasswordSecretRef
		refs = append(refs, secretRef{"spec.redis.external.passwordSecretRef", ref.Name, []string{orDefault(ref.Key, "password")}})
	}
	if s.Storage != nil && s.Storage.S3 != nil {
		refs = append(refs, secretRef{"spec.storage.s3.credentialsSecretRef", s.Storage.S3.CredentialsSecretRef.Name, []string{"accessKeyID", "secretAccessKey"}})
	}
	if s.SMTP != nil && s.SMTP.CredentialsSecretRef != nil {
		refs = append(refs, secretRef{"spec.smtp.credentialsSecretRef", s.SMTP.CredentialsSecretRef.Name, []string{"username", "password"}})
	}
	if s.TLS != nil && s.TLS.SecretName != "" {
		refs = append(refs, secretRef{"spec.tls.secretName", s.TLS.SecretName, []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey}})
	}
	if s.External != nil {
		refs = append(refs, secretRef{"spec.external.tokenSecretRef", s.External.TokenSecretRef.Name, []string{orDefault(s.External.TokenSecretRef.Key, "token")}})
	}
	return refs
}

// checkSecrets makes sure every Secret the spec names exists with the keys
// it must hold, so that pods never sit in CreateContainerConfigError
// without a word in the Instance's status.
func (r *InstanceReconciler) checkSecrets(ctx context.Context, inst *v1alpha1.Instance) error {
	_, err := r.readSecrets(ctx, inst)
	return err
}

// readSecrets is checkSecrets returning the Secrets it read, by name, for
// the rest of the pass to use instead of reading them again (an external
// Instance's token Secret goes to delivery: delivery.Given). Each is read
// once, uncached, however many fields name it.
func (r *InstanceReconciler) readSecrets(ctx context.Context, inst *v1alpha1.Instance) (map[string]*corev1.Secret, error) {
	read := map[string]*corev1.Secret{}
	for _, ref := range referencedSecrets(inst) {
		secret, ok := read[ref.name]
		if !ok {
			secret = &corev1.Secret{}
			err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: ref.name}, secret)
			if apierrors.IsNotFound(err) {
				return nil, conditions.Stall(v1alpha1.ReasonSecretNotFound, fmt.Sprintf(
					"%s: Secret %s/%s does not exist; create it with key(s) %v", ref.field, inst.Namespace, ref.name, ref.keys))
			}
			if err != nil {
				return nil, fmt.Errorf("read Secret %s/%s: %w", inst.Namespace, ref.name, err)
			}
			read[ref.name] = secret
		}
		for _, k := range ref.keys {
			if len(secret.Data[k]) == 0 {
				return nil, conditions.Stall(v1alpha1.ReasonSecretKeyMissing, fmt.Sprintf(
					"%s: Secret %s/%s has no key %q", ref.field, inst.Namespace, ref.name, k))
			}
		}
	}
	return read, nil
}

// checkIssuer makes sure the cert-manager issuer named by spec.tls exists.
func (r *InstanceReconciler) checkIssuer(ctx context.Context, inst *v1alpha1.Instance) error {
	if inst.Spec.TLS == nil || inst.Spec.TLS.IssuerRef == nil {
		return nil
	}
	ref := inst.Spec.TLS.IssuerRef
	group := ref.Group
	if group == "" {
		group = "cert-manager.io"
	}
	kind := ref.Kind
	if kind == "" {
		kind = "ClusterIssuer"
	}
	if group != "cert-manager.io" {
		return nil // an external issuer: cert-manager reports on it in the Certificate
	}
	issuer := &unstructured.Unstructured{}
	issuer.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: "v1", Kind: kind})
	key := client.ObjectKey{Name: ref.Name}
	if kind == "Issuer" {
		key.Namespace = inst.Namespace
	}
	err := r.APIReader.Get(ctx, key, issuer)
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err):
		where := "in the cluster"
		if kind == "Issuer" {
			where = "in namespace " + inst.Namespace
		}
		return conditions.Stall(v1alpha1.ReasonIssuerNotFound, fmt.Sprintf("spec.tls.issuerRef: %s %q does not exist %s; create it or name an existing one", kind, ref.Name, where))
	case isNoMatch(err):
		return conditions.Stall(v1alpha1.ReasonCertManagerMissing, "spec.tls.issuerRef needs cert-manager, whose CRDs are not installed; install cert-manager or use spec.tls.secretName")
	default:
		return fmt.Errorf("read %s %s: %w", kind, ref.Name, err)
	}
}
