package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/bundle"
	"github.com/fedcommons/fedcommons/internal/devcluster"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
	"github.com/fedcommons/fedcommons/internal/movecli"
)

// TestMoveACommunity is issue 18's move on a real control plane with the
// operator running: a community with a Mastodon and a GoToSocial server
// (each moderated through a fake admin API, over real HTTP) and a
// FederationPolicy is exported, deleted until its namespace is gone,
// and imported from the bundle. It must end with the same objects, the
// Secrets byte for byte as they were (the operator adopts them: it
// generates nothing), and the same policy on the servers, pushed with the
// moved credentials: the fakes accept only the admin token and password
// generated before the move.
func TestMoveACommunity(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := shared.client
	var standIns sync.WaitGroup
	standIns.Go(func() { devcluster.RunStandIns(ctx, c, logr.Discard()) })
	defer func() { cancel(); standIns.Wait() }()

	const ns = "moving"
	toot := fakeserver.NewMastodon(fakeserver.Options{Token: "nobody-has-this"})
	defer toot.Close()
	social := fakeserver.NewGoToSocial(fakeserver.Options{Token: "nobody-has-this-either"})
	defer social.Close()
	community := &v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: ns},
		Spec: v1alpha1.CommunitySpec{DisplayName: "Moving Commons", Domains: []v1alpha1.Domain{"moving.example"}}}
	admin := &v1alpha1.AdminSpec{Username: "admin", Email: "admin@moving.example"}
	instances := []*v1alpha1.Instance{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "toot"}, Spec: v1alpha1.InstanceSpec{
			Software: v1alpha1.SoftwareMastodon, Version: "4.5.2", Domain: "toot.moving.example", Admin: admin,
			Federation: &v1alpha1.InstanceFederation{APIURL: toot.URL}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "social"}, Spec: v1alpha1.InstanceSpec{
			Software: v1alpha1.SoftwareGoToSocial, Version: "0.20.1", Domain: "social.moving.example", Admin: admin,
			Database:   &v1alpha1.DatabaseSpec{Engine: v1alpha1.DatabaseSQLite},
			Federation: &v1alpha1.InstanceFederation{APIURL: social.URL}}},
	}
	policy := &v1alpha1.FederationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"},
		Spec: v1alpha1.FederationPolicySpec{Entries: []v1alpha1.PolicyEntry{
			{Domain: "spam.example", Action: v1alpha1.ActionSuspend, PublicComment: "spam"},
			{Domain: "noisy.example", Action: v1alpha1.ActionSilence},
		}}}
	if err := c.Create(ctx, community); err != nil {
		t.Fatal(err)
	}
	// Before the fakes close (deferred earlier, run later): the operator
	// stops calling them, and the tests after this one see no errors.
	defer func() {
		for _, name := range []string{"toot", "social"} {
			_ = c.Delete(context.Background(), &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
		}
	}()
	eventually(t, 30*time.Second, "the namespace exists", func() (bool, string) {
		err := c.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		return err == nil, fmt.Sprint(err)
	})
	// The namespace's quota refuses what it counts until the
	// controller-manager has computed it (import waits for it too).
	for _, o := range []client.Object{instances[0], instances[1], policy} {
		eventually(t, 90*time.Second, "create "+o.GetName(), func() (bool, string) {
			err := c.Create(ctx, o)
			return err == nil, fmt.Sprint(err)
		})
	}
	// The servers' admin accounts are what their bootstrap Jobs make of
	// the generated Secrets; the fakes learn them once, before the move.
	eventually(t, 60*time.Second, "the admin credentials are generated", func() (bool, string) {
		tok, pw := &corev1.Secret{}, &corev1.Secret{}
		errT := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-admin"}, tok)
		errP := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-admin"}, pw)
		if errT != nil || errP != nil || len(tok.Data["token"]) == 0 || len(pw.Data["password"]) == 0 {
			return false, fmt.Sprint(errT, errP)
		}
		toot.AcceptToken(string(tok.Data["token"]))
		social.SetAdminCredentials(admin.Email, string(pw.Data["password"]))
		return true, ""
	})
	before := waitSynced(t, c, ns, toot, social)
	wantSpecs := specs(t, c, ns)
	wantSecrets := secretsOf(t, c, ns)
	if len(wantSecrets) < 5 {
		t.Fatalf("want the generated Secrets of both servers and GoToSocial's obtained token, got %v", keys(wantSecrets))
	}

	// Export, as `fedcommons community export moving -o ... --recipient ...`.
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	b, err := movecli.Export(ctx, c, shared.cfg.Host, ns, "e2e", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	if err := bundle.Write(&file, b, []age.Recipient{id.Recipient()}); err != nil {
		t.Fatal(err)
	}
	for name, s := range wantSecrets {
		for k, v := range s.Data {
			if bytes.Contains(file.Bytes(), v) {
				t.Fatalf("Secret %s key %s is in the bundle in clear", name, k)
			}
		}
	}

	// The community leaves the cluster, retained data included. The
	// Instances go first and the policy with the namespace, later: deleting
	// the policy while an Instance still exists is a complete computation
	// of "no entries", and the operator rightly retracts the policy from
	// that server, which is not what a move does.
	for _, o := range []client.Object{instances[0].DeepCopy(), instances[1].DeepCopy()} {
		if err := c.Delete(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "the Instances are gone", func() (bool, string) {
		errT := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot"}, &v1alpha1.Instance{})
		errS := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social"}, &v1alpha1.Instance{})
		return apierrors.IsNotFound(errT) && apierrors.IsNotFound(errS), fmt.Sprint(errT, errS)
	})
	live := &v1alpha1.Community{}
	if err := c.Get(ctx, client.ObjectKey{Name: ns}, live); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(live.DeepCopy())
	live.Annotations = map[string]string{v1alpha1.AnnotationDeleteRetainedData: "true"}
	if err := c.Patch(ctx, live, patch); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, live); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, "the community and its namespace are gone", func() (bool, string) {
		errC := c.Get(ctx, client.ObjectKey{Name: ns}, &v1alpha1.Community{})
		errN := c.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		return apierrors.IsNotFound(errC) && apierrors.IsNotFound(errN), fmt.Sprint("community: ", errC, "; namespace: ", errN)
	})
	// The Mastodon comes back from a backup older than its last
	// decision: the operator must push it again, with the moved token.
	removeBlock(t, toot, "noisy.example")
	toot.ResetCounters()
	social.ResetCounters()

	// Import, as `fedcommons community import bundle.tar.gz --identity KEYFILE`.
	read, err := bundle.Read(bytes.NewReader(file.Bytes()), []age.Identity{id}, bundle.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := movecli.Import(ctx, c, shared.cfg.Host, read, movecli.ImportOptions{NamespaceWait: time.Minute}, &out); err != nil {
		t.Fatalf("import: %v\n%s", err, out.String())
	}
	t.Logf("import:\n%s", out.String())
	imported := secretsOf(t, c, ns)
	after := waitSynced(t, c, ns, toot, social)

	if got := specs(t, c, ns); !equality.Semantic.DeepEqual(got, wantSpecs) {
		t.Errorf("specs after the move:\n%v\nwant:\n%v", got, wantSpecs)
	}
	final := secretsOf(t, c, ns)
	if !reflect.DeepEqual(keys(final), keys(wantSecrets)) {
		t.Errorf("Secrets after the move: %v, want %v", keys(final), keys(wantSecrets))
	}
	for name, want := range wantSecrets {
		got := final[name]
		if got == nil || got.Type != want.Type || !equality.Semantic.DeepEqual(got.Data, want.Data) {
			t.Errorf("Secret %s is not byte-identical after the move", name)
			continue
		}
		if got.UID != imported[name].UID {
			t.Errorf("Secret %s was replaced after the import", name)
		}
	}
	for _, name := range []string{"toot", "social"} {
		if before[name] != after[name] {
			t.Errorf("%s's blocks after the move: %s, before: %s", name, after[name], before[name])
		}
	}
	if toot.Writes() == 0 || toot.Requests() == 0 || social.Requests() == 0 {
		t.Errorf("the operator did not reach the servers after the move (toot %d requests, %d writes; social %d requests)", toot.Requests(), toot.Writes(), social.Requests())
	}
}

// removeBlock deletes a domain block through the fake Mastodon's admin API
// (with the token it was started with, not the operator's).
func removeBlock(t *testing.T, f *fakeserver.Server, domain string) {
	t.Helper()
	for _, r := range f.Blocks() {
		if r.Domain != domain {
			continue
		}
		req, err := http.NewRequest(http.MethodDelete, f.URL+"/api/v1/admin/domain_blocks/"+r.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer nobody-has-this")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("delete %s from the fake: %s", domain, resp.Status)
		}
		return
	}
	t.Fatalf("the fake holds no block of %s", domain)
}

// waitSynced waits for both Instances to report the policy synced and the
// fakes to hold its entries; it returns each server's blocks.
func waitSynced(t *testing.T, c client.Client, ns string, toot, social *fakeserver.Server) map[string]string {
	t.Helper()
	ctx := context.Background()
	blocks := map[string]string{}
	eventually(t, 3*time.Minute, "the policy reaches both servers", func() (bool, string) {
		for name, f := range map[string]*fakeserver.Server{"toot": toot, "social": social} {
			inst := &v1alpha1.Instance{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, inst); err != nil {
				return false, err.Error()
			}
			cond := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionFederationSynced)
			if cond == nil || cond.Status != metav1.ConditionTrue || inst.Status.Federation == nil || inst.Status.Federation.Entries != 2 {
				return false, fmt.Sprintf("%s: %v", name, inst.Status.Conditions)
			}
			var got []string
			for _, r := range f.Blocks() {
				got = append(got, r.Domain+"="+r.Severity)
			}
			sort.Strings(got)
			blocks[name] = strings.Join(got, ",")
		}
		return strings.Contains(blocks["toot"], "spam.example=suspend") && strings.Contains(blocks["social"], "spam.example"), fmt.Sprint(blocks)
	})
	return blocks
}

// specs are the community's declared objects, as a comparable text.
func specs(t *testing.T, c client.Client, ns string) map[string]any {
	t.Helper()
	ctx := context.Background()
	out := map[string]any{}
	com := &v1alpha1.Community{}
	if err := c.Get(ctx, client.ObjectKey{Name: ns}, com); err != nil {
		t.Fatal(err)
	}
	out["Community"] = com.Spec
	insts := &v1alpha1.InstanceList{}
	if err := c.List(ctx, insts, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, in := range insts.Items {
		out["Instance/"+in.Name] = in.Spec
	}
	pols := &v1alpha1.FederationPolicyList{}
	if err := c.List(ctx, pols, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, p := range pols.Items {
		out["FederationPolicy/"+p.Name] = p.Spec
	}
	return out
}

// secretsOf reads, by name, the Secrets the operator generated or obtained
// for the community's Instances.
func secretsOf(t *testing.T, c client.Client, ns string) map[string]*corev1.Secret {
	t.Helper()
	out := map[string]*corev1.Secret{}
	for _, inst := range []string{"toot", "social"} {
		for _, suffix := range []string{"-secrets", "-admin", "-admin-token", "-postgres", "-redis"} {
			s := &corev1.Secret{}
			err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: inst + suffix}, s)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			out[s.Name] = s
		}
	}
	return out
}

func keys(m map[string]*corev1.Secret) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
