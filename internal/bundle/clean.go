package bundle

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// cleanMeta keeps what a person wrote (name, namespace, labels,
// annotations) and drops what the old cluster set: identity, versions,
// field ownership, owners, timestamps.
func cleanMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	out := metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace}
	if len(m.Labels) > 0 {
		out.Labels = map[string]string{}
		for k, v := range m.Labels {
			out.Labels[k] = v
		}
	}
	for k, v := range m.Annotations {
		// kubectl's copy of the last applied object would make a later
		// `kubectl apply` on the new cluster compute wrong diffs.
		if k == corev1.LastAppliedConfigAnnotation {
			continue
		}
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		out.Annotations[k] = v
	}
	return out
}

// CleanCommunity returns the Community as a manifest: spec and cleaned
// metadata, no status.
func CleanCommunity(c *v1alpha1.Community) *v1alpha1.Community {
	return &v1alpha1.Community{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Community"},
		ObjectMeta: cleanMeta(c.ObjectMeta),
		Spec:       *c.Spec.DeepCopy(),
	}
}

// CleanInstance returns the Instance as a manifest. spec.restore is
// dropped: it named the backup this Instance was once created from, not
// its latest one (RestoreFrom sets that at import).
func CleanInstance(in *v1alpha1.Instance) *v1alpha1.Instance {
	out := &v1alpha1.Instance{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Instance"},
		ObjectMeta: cleanMeta(in.ObjectMeta),
		Spec:       *in.Spec.DeepCopy(),
	}
	out.Spec.Restore = nil
	return out
}

// CleanPolicy returns the FederationPolicy as a manifest.
func CleanPolicy(p *v1alpha1.FederationPolicy) *v1alpha1.FederationPolicy {
	return &v1alpha1.FederationPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "FederationPolicy"},
		ObjectMeta: cleanMeta(p.ObjectMeta),
		Spec:       *p.Spec.DeepCopy(),
	}
}

// CleanSecret keeps a Secret's name, labels, type, immutability and data.
func CleanSecret(s *corev1.Secret) corev1.Secret {
	out := corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: cleanMeta(s.ObjectMeta),
		Type:       s.Type,
		Data:       map[string][]byte{},
	}
	if s.Immutable != nil {
		out.Immutable = new(bool)
		*out.Immutable = *s.Immutable
	}
	for k, v := range s.Data {
		out.Data[k] = append([]byte(nil), v...)
	}
	return out
}

// LatestBackup reads an Instance's latest successful backup from its
// status, and where it is from its spec: nil when it has none.
func LatestBackup(in *v1alpha1.Instance) *BackupRef {
	b := in.Status.Backup
	if b == nil || b.LastName == "" {
		return nil
	}
	ref := &BackupRef{Name: b.LastName, Location: b.Location}
	if b.LastSuccessfulTime != nil {
		t := b.LastSuccessfulTime.UTC()
		ref.Time = &t
	}
	if d := in.Spec.Backup; d != nil {
		from := &v1alpha1.BackupLocation{Name: b.LastName}
		if d.Destination.S3 != nil {
			from.S3 = d.Destination.S3.DeepCopy()
		}
		if d.Destination.PVC != nil {
			from.PVC = d.Destination.PVC.DeepCopy()
		}
		if from.S3 != nil || from.PVC != nil {
			ref.From = from
		}
	}
	return ref
}

// RestoreFrom returns the Instance to create on the new cluster: the
// bundle's, restoring from its latest backup when the bundle names one.
// (spec.restore is accepted only at creation, which this is.)
func RestoreFrom(in *v1alpha1.Instance, backup *BackupRef) *v1alpha1.Instance {
	out := in.DeepCopy()
	if backup != nil && backup.From != nil && in.Spec.External == nil {
		out.Spec.Restore = &v1alpha1.RestoreSpec{From: *backup.From.DeepCopy()}
	}
	return out
}

// ReferencedSecrets lists the Secrets an Instance names that its admins
// provide (not generated), which a bundle does not carry.
func ReferencedSecrets(in *v1alpha1.Instance) []SecretRef {
	var out []SecretRef
	add := func(name, field string) {
		if name != "" {
			out = append(out, SecretRef{Name: name, UsedBy: fmt.Sprintf("%s %s", in.Name, field)})
		}
	}
	s := in.Spec
	if s.TLS != nil {
		add(s.TLS.SecretName, "spec.tls.secretName")
	}
	if s.Database != nil && s.Database.Postgres != nil && s.Database.Postgres.External != nil {
		add(s.Database.Postgres.External.PasswordSecretRef.Name, "spec.database.postgres.external.passwordSecretRef")
	}
	if s.Redis != nil && s.Redis.External != nil && s.Redis.External.PasswordSecretRef != nil {
		add(s.Redis.External.PasswordSecretRef.Name, "spec.redis.external.passwordSecretRef")
	}
	if s.Storage != nil && s.Storage.S3 != nil {
		add(s.Storage.S3.CredentialsSecretRef.Name, "spec.storage.s3.credentialsSecretRef")
	}
	if s.SMTP != nil && s.SMTP.CredentialsSecretRef != nil {
		add(s.SMTP.CredentialsSecretRef.Name, "spec.smtp.credentialsSecretRef")
	}
	if s.Backup != nil && s.Backup.Destination.S3 != nil {
		add(s.Backup.Destination.S3.CredentialsSecretRef.Name, "spec.backup.destination.s3.credentialsSecretRef")
	}
	if s.External != nil {
		add(s.External.TokenSecretRef.Name, "spec.external.tokenSecretRef")
	}
	return out
}
