package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/manager"
	"github.com/fedcommons/fedcommons/internal/testenv"
)

// moveCluster is a real API server with the CRDs and an admin kubeconfig.
type moveCluster struct {
	admin      client.Client
	kubeconfig string
}

func startMoveCluster(t *testing.T) *moveCluster {
	t.Helper()
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg := testenv.Start(t, env)
	c, err := client.New(cfg, client.Options{Scheme: manager.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	u, err := env.AddUser(envtest.User{Name: "sysadmin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return &moveCluster{admin: c, kubeconfig: path}
}

func (m *moveCluster) create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := m.admin.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

func communityCmd(args ...string) (string, error) {
	var out bytes.Buffer
	err := runCommunity(args, &out)
	return out.String(), err
}

// generated is a Secret as the operator makes it for an Instance.
func generated(ns, inst, name string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{
			v1alpha1.LabelInstance: inst, v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue, v1alpha1.LabelCommunity: "riverside"}},
		Type: corev1.SecretTypeOpaque, Immutable: ptr.To(true), Data: data,
	}
}

// TestExportImport moves a community between two real API servers with the
// commands as a sysadmin runs them, and checks that the new cluster ends
// with the same specs, the same Secrets byte for byte, each Instance
// restoring its latest backup; that nothing is written in clear; that an
// import never overwrites; and that --dry-run creates nothing.
func TestExportImport(t *testing.T) {
	ctx := context.Background()
	src, dst := startMoveCluster(t), startMoveCluster(t)
	src.create(t,
		&v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: "riverside"}, Spec: v1alpha1.CommunitySpec{Domains: []v1alpha1.Domain{"riverside.example"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "riverside", Labels: map[string]string{v1alpha1.LabelCommunity: "riverside"}}})
	toot := &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "toot"},
		Spec: v1alpha1.InstanceSpec{Software: v1alpha1.SoftwareMastodon, Version: "4.5.2", Domain: "toot.riverside.example",
			Admin:  &v1alpha1.AdminSpec{Username: "admin", Email: "admin@riverside.example"},
			Backup: &v1alpha1.BackupSpec{Schedule: "0 3 * * *", Destination: v1alpha1.BackupDestination{PVC: &v1alpha1.BackupPVC{ClaimName: "backups"}}},
			SMTP:   &v1alpha1.SMTPSpec{Host: "smtp.riverside.example", From: "toot@riverside.example", CredentialsSecretRef: &v1alpha1.LocalSecretReference{Name: "riverside-smtp"}}}}
	social := &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "social"},
		Spec: v1alpha1.InstanceSpec{Software: v1alpha1.SoftwareGoToSocial, Version: "0.20.1", Domain: "social.riverside.example"}}
	policy := &v1alpha1.FederationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "shared"},
		Spec: v1alpha1.FederationPolicySpec{Entries: []v1alpha1.PolicyEntry{{Domain: "spam.example", Action: v1alpha1.ActionSuspend, PrivateComment: "mods only"}},
			Sources: []v1alpha1.PolicySource{{Name: "hillside", PolicyRef: &v1alpha1.PolicyReference{Namespace: "hillside", Name: "shared-moderation"}, Weight: ptr.To[int32](2)}}}}
	secrets := []*corev1.Secret{
		generated("riverside", "toot", "toot-secrets", map[string][]byte{"SECRET_KEY_BASE": []byte("keybase-in-clear-nowhere"), "bin": {0, 255, 10}}),
		generated("riverside", "toot", "toot-postgres", map[string][]byte{"password": []byte("pgpass-in-clear-nowhere")}),
		generated("riverside", "social", "social-admin-token", map[string][]byte{"token": []byte("token-in-clear-nowhere")}),
	}
	secrets[2].Immutable = nil
	src.create(t, toot, social, policy, secrets[0], secrets[1], secrets[2])
	// A person's own Secret that happens to bear a generated name is not moved.
	src.create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "social-secrets"}, StringData: map[string]string{"x": "y"}})
	backupTime := metav1.NewTime(time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC))
	toot.Status.Backup = &v1alpha1.BackupStatus{LastName: "20261202T030000Z", LastSuccessfulTime: &backupTime, Location: "pvc://backups/toot/20261202T030000Z"}
	if err := src.admin.Status().Update(ctx, toot); err != nil {
		t.Fatal(err)
	}

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.txt")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bundlePath := filepath.Join(dir, "riverside.tar.gz")
	if _, err := communityCmd("export", "riverside", "-o", bundlePath, "--kubeconfig", src.kubeconfig); err == nil || !strings.Contains(err.Error(), "--recipient") {
		t.Fatalf("export without a recipient: %v", err)
	}
	out, err := communityCmd("export", "riverside", "-o", bundlePath, "--recipient", id.Recipient().String(), "--kubeconfig", src.kubeconfig)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	t.Logf("export:\n%s", out)
	for _, want := range []string{"2 Instances", "3 generated Secrets", "latest backup 20261202T030000Z", "policy shared subscribes to hillside/shared-moderation",
		"not carried: Secret riverside-smtp (toot spec.smtp.credentialsSecretRef)", "Instance social has no successful backup"} {
		if !strings.Contains(out, want) {
			t.Errorf("export output lacks %q", want)
		}
	}
	raw, _ := os.ReadFile(bundlePath)
	for _, s := range secrets {
		for _, v := range s.Data {
			if len(v) > 4 && (bytes.Contains(raw, v) || strings.Contains(out, string(v))) {
				t.Errorf("secret value of %s in clear", s.Name)
			}
		}
	}
	if _, err := communityCmd("export", "riverside", "-o", bundlePath, "--recipient", id.Recipient().String(), "--kubeconfig", src.kubeconfig); err == nil || !strings.Contains(err.Error(), "never overwrites") {
		t.Fatalf("export over an existing file: %v", err)
	}

	// Dry run: says, creates nothing, even without the key.
	out, err = communityCmd("import", bundlePath, "--dry-run", "--kubeconfig", dst.kubeconfig)
	if err != nil || !strings.Contains(out, "would create Instance riverside/toot (restores backup 20261202T030000Z)") || !strings.Contains(out, "would create Secret riverside/toot-secrets (sealed") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if err := dst.admin.Get(ctx, client.ObjectKey{Name: "riverside"}, &v1alpha1.Community{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the dry run created the Community: %v", err)
	}
	// The operator creates the namespace; here the test does.
	go func() {
		time.Sleep(time.Second)
		_ = dst.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "riverside", Labels: map[string]string{v1alpha1.LabelCommunity: "riverside"}}})
	}()
	out, err = communityCmd("import", bundlePath, "--identity", keyFile, "--kubeconfig", dst.kubeconfig)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	t.Logf("import:\n%s", out)
	if !strings.Contains(out, "create Secret riverside/riverside-smtp (toot spec.smtp.credentialsSecretRef)") {
		t.Errorf("import does not say the SMTP Secret is to be created:\n%s", out)
	}
	assertMoved(t, src.admin, dst.admin, secrets)
	got := &v1alpha1.Instance{}
	if err := dst.admin.Get(ctx, client.ObjectKeyFromObject(toot), got); err != nil {
		t.Fatal(err)
	}
	wantFrom := v1alpha1.BackupLocation{Name: "20261202T030000Z", PVC: &v1alpha1.BackupPVC{ClaimName: "backups"}}
	if got.Spec.Restore == nil || !equality.Semantic.DeepEqual(got.Spec.Restore.From, wantFrom) {
		t.Errorf("toot restores %+v, want %+v", got.Spec.Restore, wantFrom)
	}
	if err := dst.admin.Get(ctx, client.ObjectKey{Namespace: "riverside", Name: "social-secrets"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("a Secret the operator did not make was moved: %v", err)
	}

	// Again: everything is there and identical, nothing changes.
	if out, err = communityCmd("import", bundlePath, "--identity", keyFile, "--kubeconfig", dst.kubeconfig); err != nil || strings.Count(out, "exists, identical") != 7 {
		t.Fatalf("second import: %v\n%s", err, out)
	}
	// A Secret that differs stops the import before anything is created.
	if err := dst.admin.Delete(ctx, policy.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	if err := dst.admin.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "toot-postgres"}}); err != nil {
		t.Fatal(err)
	}
	dst.create(t, generated("riverside", "toot", "toot-postgres", map[string][]byte{"password": []byte("another")}))
	_, err = communityCmd("import", bundlePath, "--identity", keyFile, "--kubeconfig", dst.kubeconfig)
	if err == nil || !strings.Contains(err.Error(), "Secret riverside/toot-postgres exists and holds other values") || !strings.Contains(err.Error(), "nothing was imported") {
		t.Fatalf("import over a different Secret: %v", err)
	}
	if err := dst.admin.Get(ctx, client.ObjectKeyFromObject(policy), &v1alpha1.FederationPolicy{}); !apierrors.IsNotFound(err) {
		t.Errorf("the refused import created the policy: %v", err)
	}
	// Another key cannot open the bundle.
	other, _ := age.GenerateX25519Identity()
	otherFile := filepath.Join(dir, "other.txt")
	_ = os.WriteFile(otherFile, []byte(other.String()), 0o600)
	if _, err := communityCmd("import", bundlePath, "--identity", otherFile, "--kubeconfig", dst.kubeconfig); err == nil || !strings.Contains(err.Error(), "encrypted to other keys") {
		t.Fatalf("import with another key: %v", err)
	}
}

// assertMoved checks that dst holds src's community: same specs, the same
// Secrets byte for byte (type, immutability, data).
func assertMoved(t *testing.T, src, dst client.Client, secrets []*corev1.Secret) {
	t.Helper()
	ctx := context.Background()
	for _, pair := range [][2]client.Object{
		{&v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: "riverside"}}, &v1alpha1.Community{}},
		{&v1alpha1.FederationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "shared"}}, &v1alpha1.FederationPolicy{}},
	} {
		if err := src.Get(ctx, client.ObjectKeyFromObject(pair[0]), pair[0]); err != nil {
			t.Fatal(err)
		}
		if err := dst.Get(ctx, client.ObjectKeyFromObject(pair[0]), pair[1]); err != nil {
			t.Fatalf("%T %s not imported: %v", pair[0], pair[0].GetName(), err)
		}
		same := false
		switch a := pair[0].(type) {
		case *v1alpha1.Community:
			same = equality.Semantic.DeepEqual(a.Spec, pair[1].(*v1alpha1.Community).Spec)
		case *v1alpha1.FederationPolicy:
			same = equality.Semantic.DeepEqual(a.Spec, pair[1].(*v1alpha1.FederationPolicy).Spec)
		}
		if !same {
			t.Errorf("%T %s spec differs after the move", pair[0], pair[0].GetName())
		}
	}
	for _, name := range []string{"toot", "social"} {
		a, b := &v1alpha1.Instance{}, &v1alpha1.Instance{}
		if err := src.Get(ctx, client.ObjectKey{Namespace: "riverside", Name: name}, a); err != nil {
			t.Fatal(err)
		}
		if err := dst.Get(ctx, client.ObjectKey{Namespace: "riverside", Name: name}, b); err != nil {
			t.Fatal(err)
		}
		b.Spec.Restore = nil
		if !equality.Semantic.DeepEqual(a.Spec, b.Spec) {
			t.Errorf("Instance %s spec differs:\n src %+v\n dst %+v", name, a.Spec, b.Spec)
		}
	}
	for _, s := range secrets {
		got := &corev1.Secret{}
		if err := dst.Get(ctx, client.ObjectKeyFromObject(s), got); err != nil {
			t.Fatalf("Secret %s not imported: %v", s.Name, err)
		}
		if got.Type != s.Type || !equality.Semantic.DeepEqual(got.Data, s.Data) || !equality.Semantic.DeepEqual(got.Immutable, s.Immutable) || got.Labels[v1alpha1.LabelInstance] != s.Labels[v1alpha1.LabelInstance] {
			t.Errorf("Secret %s differs after the move", s.Name)
		}
	}
}
