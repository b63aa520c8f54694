package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

const secretValue = "s3cr3t-VAPID-private-key-never-in-clear"

func sample(t *testing.T) *Bundle {
	t.Helper()
	community := CleanCommunity(&v1alpha1.Community{
		ObjectMeta: metav1.ObjectMeta{Name: "riverside", UID: "u1", ResourceVersion: "42", CreationTimestamp: metav1.Now(),
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
			Annotations:   map[string]string{corev1.LastAppliedConfigAnnotation: "{}", "note": "kept"}},
		Spec:   v1alpha1.CommunitySpec{Namespace: "riverside", Domains: []v1alpha1.Domain{"riverside.example"}},
		Status: v1alpha1.CommunityStatus{Namespace: "riverside", Instances: 1},
	})
	inst := &v1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "toot", UID: "u2",
			OwnerReferences: []metav1.OwnerReference{{Name: "x"}}},
		Spec: v1alpha1.InstanceSpec{Software: v1alpha1.SoftwareMastodon, Version: "4.5.2", Domain: "toot.riverside.example",
			Backup:  &v1alpha1.BackupSpec{Schedule: "0 3 * * *", Destination: v1alpha1.BackupDestination{PVC: &v1alpha1.BackupPVC{ClaimName: "backups"}}},
			Restore: &v1alpha1.RestoreSpec{From: v1alpha1.BackupLocation{Name: "20250101T000000Z", PVC: &v1alpha1.BackupPVC{ClaimName: "old"}}}},
		Status: v1alpha1.InstanceStatus{Backup: &v1alpha1.BackupStatus{LastName: "20261202T030000Z", Location: "pvc://backups/toot/20261202T030000Z"}},
	}
	policy := CleanPolicy(&v1alpha1.FederationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "shared"},
		Spec:       v1alpha1.FederationPolicySpec{Entries: []v1alpha1.PolicyEntry{{Domain: "spam.example", Action: v1alpha1.ActionSuspend}}},
	})
	secret := CleanSecret(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "toot-secrets", UID: "u3", Labels: map[string]string{v1alpha1.LabelInstance: "toot"}},
		Type:       corev1.SecretTypeOpaque, Immutable: new(bool),
		Data: map[string][]byte{"VAPID_PRIVATE_KEY": []byte(secretValue), "binary": {0, 1, 2, 255}},
	})
	*secret.Immutable = true
	return &Bundle{
		Manifest: Manifest{Community: "riverside", Namespace: "riverside", SourceCluster: "https://old.example:6443",
			CreatedAt: time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC),
			Instances: []InstanceEntry{{Name: "toot", Software: "mastodon", Domain: "toot.riverside.example", Backup: LatestBackup(inst)}},
			Policies:  []string{"shared"}, Secrets: []SecretEntry{{Name: "toot-secrets", Instance: "toot"}}},
		Community: community, Instances: []v1alpha1.Instance{*CleanInstance(inst)},
		Policies: []v1alpha1.FederationPolicy{*policy}, Secrets: []corev1.Secret{secret},
	}
}

func key(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func write(t *testing.T, b *Bundle, rs ...age.Recipient) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, b, rs); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A bundle read back is the bundle written: same objects, Secrets
// byte-identical; cleaned of the old cluster's metadata.
func TestRoundTrip(t *testing.T) {
	id, other := key(t), key(t)
	in := sample(t)
	data := write(t, in, other.Recipient(), id.Recipient())
	out, err := Read(bytes.NewReader(data), []age.Identity{id}, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Secrets, in.Secrets) {
		t.Errorf("secrets changed:\n got %#v\nwant %#v", out.Secrets, in.Secrets)
	}
	if !reflect.DeepEqual(out.Instances, in.Instances) || !reflect.DeepEqual(out.Policies, in.Policies) || !reflect.DeepEqual(out.Community, in.Community) {
		t.Errorf("objects changed:\n got %+v\nwant %+v", out.Instances, in.Instances)
	}
	c := out.Community
	if c.UID != "" || c.ResourceVersion != "" || !c.CreationTimestamp.IsZero() || c.ManagedFields != nil || c.Status.Instances != 0 {
		t.Errorf("community not cleaned: %+v", c.ObjectMeta)
	}
	if _, ok := c.Annotations[corev1.LastAppliedConfigAnnotation]; ok || c.Annotations["note"] != "kept" {
		t.Errorf("annotations: %v", c.Annotations)
	}
	inst := out.Instances[0]
	if inst.OwnerReferences != nil || inst.Spec.Restore != nil || inst.Status.Backup != nil {
		t.Errorf("instance not cleaned: %+v %+v", inst.ObjectMeta, inst.Spec.Restore)
	}
	// The restore names the latest backup, in the Instance's destination.
	r := RestoreFrom(&inst, out.Manifest.Instances[0].Backup)
	want := v1alpha1.BackupLocation{Name: "20261202T030000Z", PVC: &v1alpha1.BackupPVC{ClaimName: "backups"}}
	if r.Spec.Restore == nil || !reflect.DeepEqual(r.Spec.Restore.From, want) {
		t.Errorf("restore = %+v, want from %+v", r.Spec.Restore, want)
	}
}

// No plaintext secret in the file, compressed or not; none without a recipient.
func TestSecretsOnlyEncrypted(t *testing.T) {
	if err := Write(io.Discard, sample(t), nil); err != ErrNoRecipient {
		t.Fatalf("Write without recipient: %v, want ErrNoRecipient", err)
	}
	data := write(t, sample(t), key(t).Recipient())
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	for _, needle := range []string{secretValue, "VAPID_PRIVATE_KEY", "czNjcjN0"} {
		if bytes.Contains(plain, []byte(needle)) || bytes.Contains(data, []byte(needle)) {
			t.Errorf("the bundle holds %q in clear", needle)
		}
	}
	// Without an identity the secrets stay sealed; with the wrong one, a clear refusal.
	b, err := Read(bytes.NewReader(data), nil, DefaultLimits)
	if err != nil || b.Secrets != nil || len(b.Manifest.Secrets) != 1 {
		t.Fatalf("sealed read: %v, secrets %v", err, b)
	}
	_, err = Read(bytes.NewReader(data), []age.Identity{key(t)}, DefaultLimits)
	if err == nil || !strings.Contains(err.Error(), "encrypted to other keys") {
		t.Fatalf("wrong identity: %v", err)
	}
}

func TestParseRecipient(t *testing.T) {
	id := key(t)
	if _, err := ParseRecipient(id.Recipient().String()); err != nil {
		t.Fatal(err)
	}
	_, err := ParseRecipient(id.String())
	if err == nil || strings.Contains(err.Error(), id.String()) || !strings.Contains(err.Error(), "private key") {
		t.Fatalf("a private key as recipient: %v", err)
	}
	if _, err := ParseRecipient("ssh-ed25519 AAAA"); err == nil {
		t.Fatal("accepted a non-age key")
	}
}

// rawEntry is a tar entry of a hand-made bundle.
type rawEntry struct {
	hdr  tar.Header
	data []byte
}

func file(name string, data []byte) rawEntry {
	return rawEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(len(data))}, data: data}
}

func pack(t *testing.T, entries ...rawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if len(e.data) > 0 {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = tw.Close()
	_ = zw.Close()
	return buf.Bytes()
}

// entriesOf unpacks a real bundle, to build hostile variants from it.
func entriesOf(t *testing.T, data []byte) []rawEntry {
	t.Helper()
	zr, _ := gzip.NewReader(bytes.NewReader(data))
	tr := tar.NewReader(zr)
	var out []rawEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, file(h.Name, b))
	}
}

// Read refuses hostile and damaged bundles with a message naming why,
// before allocating for oversized entries.
func TestReadRefuses(t *testing.T) {
	id := key(t)
	good := entriesOf(t, write(t, sample(t), id.Recipient()))
	manifest := good[0]
	var m Manifest
	if err := yaml.Unmarshal(manifest.data, &m); err != nil {
		t.Fatal(err)
	}
	m.FormatVersion = 2
	v2, _ := yaml.Marshal(m)
	symlink := rawEntry{hdr: tar.Header{Name: "policies/evil.yaml", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}
	huge := rawEntry{hdr: tar.Header{Name: "community.yaml", Typeflag: tar.TypeReg, Mode: 0o600, Size: 1 << 40}}
	small := DefaultLimits
	small.Entries = 3
	bombLimits := DefaultLimits
	bombLimits.Ratio = 50
	for name, tc := range map[string]struct {
		data []byte
		lim  Limits
		want string
	}{
		"not gzip":        {[]byte("hello"), DefaultLimits, "not a bundle"},
		"traversal":       {pack(t, manifest, file("../../etc/cron.d/x", []byte("x"))), DefaultLimits, "leaves the bundle"},
		"absolute":        {pack(t, manifest, file("/etc/passwd", []byte("x"))), DefaultLimits, "leaves the bundle"},
		"dot-dot inside":  {pack(t, manifest, file("instances/../community.yaml", []byte("x"))), DefaultLimits, "leaves the bundle"},
		"symlink":         {pack(t, manifest, symlink), DefaultLimits, "not a regular file"},
		"duplicate":       {pack(t, append(append([]rawEntry{}, good...), good[1])...), DefaultLimits, "appears twice"},
		"manifest second": {pack(t, good[1], manifest), DefaultLimits, "must be the bundle's first entry"},
		"unknown file":    {pack(t, manifest, file("run.sh", []byte("x"))), DefaultLimits, "unexpected entry"},
		"unlisted":        {pack(t, append(append([]rawEntry{}, good...), file("policies/extra.yaml", []byte("x")))...), DefaultLimits, "not listed in the manifest"},
		"missing":         {pack(t, good[:len(good)-1]...), DefaultLimits, "does not hold"},
		"version 2":       {pack(t, append([]rawEntry{file(manifestFile, v2)}, good[1:]...)...), DefaultLimits, "format version 2"},
		"entry too large": {pack(t, manifest, huge), DefaultLimits, "more than the 16777216"},
		"too many":        {pack(t, good...), small, "more than 3 entries"},
		"bomb":            {pack(t, manifest, file("community.yaml", make([]byte, 8<<20))), bombLimits, "decompression bomb"},
		"file too large":  {pack(t, manifest, file("community.yaml", randomish(2<<20))), Limits{Compressed: 1 << 20, Total: 1 << 30, Entry: 1 << 30, Entries: 10, Ratio: 100}, "larger than 1048576"},
	} {
		_, err := Read(bytes.NewReader(tc.data), []age.Identity{id}, tc.lim)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, tc.want)
		}
	}
}

// randomish is incompressible filler.
func randomish(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
