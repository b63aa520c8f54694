package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/federation"
)

// checkDomain refuses an Instance whose domain another Instance in the
// cluster already claims (see federation.ClaimHolder), and the refused Instance
// touches nothing.
func (r *InstanceReconciler) checkDomain(ctx context.Context, inst *v1alpha1.Instance) *stalledError {
	list := &v1alpha1.InstanceList{}
	if err := r.Client.List(ctx, list, client.MatchingFields{domainIndex: string(inst.Spec.Domain)}); err != nil {
		return nil // the next pass checks again; listing the cache does not fail in practice
	}
	claims := make([]*v1alpha1.Instance, 0, len(list.Items))
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp.IsZero() {
			claims = append(claims, &list.Items[i])
		}
	}
	if len(claims) < 2 {
		return nil
	}
	first := federation.ClaimHolder(claims)
	if first.UID == inst.UID {
		return nil
	}
	return &stalledError{reason: reasonDomainTaken, message: fmt.Sprintf(
		"domain %s is already served by Instance %s/%s; each domain can have one Instance in the cluster", inst.Spec.Domain, first.Namespace, first.Name)}
}

// reasonDomainTaken is the reason ClaimHolder reads: the rule of who
// keeps a domain lives in internal/federation, where it also decides
// which Instances protect their domain in every policy's merge.
const reasonDomainTaken = federation.ReasonDomainTaken

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
func (r *InstanceReconciler) checkSecrets(ctx context.Context, inst *v1alpha1.Instance) phaseResult {
	for _, ref := range referencedSecrets(inst) {
		secret := &corev1.Secret{}
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: ref.name}, secret)
		if apierrors.IsNotFound(err) {
			return stalledResult("SecretNotFound", fmt.Sprintf(
				"%s: Secret %s/%s does not exist; create it with key(s) %v", ref.field, inst.Namespace, ref.name, ref.keys))
		}
		if err != nil {
			return phaseResult{err: fmt.Errorf("read Secret %s/%s: %w", inst.Namespace, ref.name, err)}
		}
		for _, k := range ref.keys {
			if len(secret.Data[k]) == 0 {
				return stalledResult("SecretKeyMissing", fmt.Sprintf(
					"%s: Secret %s/%s has no key %q", ref.field, inst.Namespace, ref.name, k))
			}
		}
	}
	return phaseResult{}
}

// checkIssuer makes sure the cert-manager issuer named by spec.tls exists.
func (r *InstanceReconciler) checkIssuer(ctx context.Context, inst *v1alpha1.Instance) phaseResult {
	if inst.Spec.TLS == nil || inst.Spec.TLS.IssuerRef == nil {
		return phaseResult{}
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
		return phaseResult{} // an external issuer: cert-manager reports on it in the Certificate
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
		return phaseResult{}
	case apierrors.IsNotFound(err):
		where := "in the cluster"
		if kind == "Issuer" {
			where = "in namespace " + inst.Namespace
		}
		return stalledResult("IssuerNotFound", fmt.Sprintf("spec.tls.issuerRef: %s %q does not exist %s; create it or name an existing one", kind, ref.Name, where))
	case isNoMatch(err):
		return stalledResult("CertManagerMissing", "spec.tls.issuerRef needs cert-manager, whose CRDs are not installed; install cert-manager or use spec.tls.secretName")
	default:
		return phaseResult{err: fmt.Errorf("read %s %s: %w", kind, ref.Name, err)}
	}
}
