package conformance

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/controllers"
	"github.com/fedcommons/fedcommons/internal/delivery"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/outbound"
	"github.com/fedcommons/fedcommons/internal/resources"
)

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// The community's policy: the sample's own decisions, and a suspension of
// an internationalised name. Silence and reject-media have no place on
// GoToSocial 0.20 (no domain_limits) and must be reported, not sent.
var hostedEntries = []v1alpha1.PolicyEntry{
	{Domain: "spam.example", Action: v1alpha1.ActionSuspend, RejectReports: ptrTo(true), PublicComment: "spam",
		PrivateComment: "decided at the 2026-11-03 assembly, ticket 41"},
	{Domain: "noisy.example", Action: v1alpha1.ActionSilence, PublicComment: "unmoderated, floods public timelines"},
	{Domain: "bigmedia.example", Action: v1alpha1.ActionRejectMedia, PublicComment: "hotlinked media without consent"},
	{Domain: "friends.example", Action: v1alpha1.ActionAllow, PublicComment: "sister co-op"},
	{Domain: "xn--bcher-kva.example", Action: v1alpha1.ActionSuspend, Obfuscate: ptrTo(true), PublicComment: "harassment"},
}

// deliver runs the operator's delivery (internal/delivery with the
// operator's token store) against the hosted server, pass by pass, the
// Kubernetes side in a fake API client.
func (h *hosted) deliver(t *testing.T) {
	// Delivery logs each pass (the operator's log); the test reads its
	// Outcome instead.
	ctx := log.IntoContext(context.Background(), logr.Discard())
	inst := h.inst.DeepCopy()
	inst.Spec.Federation.APIURL = h.serverURL()
	inst.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionAdminReady, Status: metav1.ConditionTrue, Reason: "Bootstrapped", LastTransitionTime: metav1.Now()}}
	ns := inst.Namespace
	objs := map[string]client.Object{}
	for _, s := range h.secrets {
		objs["Secret/"+s.Name] = s
	}
	registry := federation.NewRegistry()
	setPolicy := func(gen int64, entries []v1alpha1.PolicyEntry) {
		p := hostedPolicy(ns, gen, entries)
		objs["FederationPolicy/"+p.Name] = p
		registry.Put(computed(t, p))
	}
	// In the cluster the operator reaches the server at its own Service,
	// http://social-web.riverside.svc:8080, trusted by construction; here
	// that Service is the local process.
	local := strings.TrimPrefix(h.serverURL(), "http://")
	web := resources.ComponentName(inst, "web")
	syncer := &delivery.Syncer{
		Results: delivery.RegistryResults{Registry: registry},
		Options: delivery.Options{
			// Every pass compares the server with the policy.
			DriftCheckInterval: 1, SyncTimeout: 2 * 60e9,
			ServiceOrigins: func(namespace, name string, port int32) []outbound.Trusted {
				if namespace == inst.Namespace && name == web {
					return []outbound.Trusted{{Host: local}}
				}
				return nil
			},
		},
	}
	pass := func(name string) delivery.Outcome {
		t.Helper()
		var list []client.Object
		for _, o := range objs {
			list = append(list, o.DeepCopyObject().(client.Object))
		}
		c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(list...).Build()
		syncer.Client, syncer.APIReader = c, c
		syncer.Tokens = &controllers.AdminTokenStore{Client: c, APIReader: c}
		out, err := syncer.Sync(ctx, inst, h.profile, delivery.Given{})
		if err != nil {
			t.Fatalf("%s pass: %v", name, err)
		}
		if out.Condition == nil || out.Condition.Reason != v1alpha1.ReasonSynced || out.Condition.Status != metav1.ConditionTrue {
			t.Fatalf("%s pass: FederationSynced %+v", name, out.Condition)
		}
		tok := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.AdminTokenSecretName(inst)}, tok); err == nil {
			objs["Secret/"+tok.Name] = tok
		}
		meta.SetStatusCondition(&inst.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionFederationSynced,
			Status: out.Condition.Status, Reason: out.Condition.Reason, Message: out.Condition.Message, ObservedGeneration: inst.Generation})
		if out.Status != nil {
			inst.Status.Federation = out.Status
		}
		inst.Status.ObservedGeneration = inst.Generation
		return out
	}

	// 1. The operator signs in with the generated password and pushes
	// the policy.
	setPolicy(1, hostedEntries)
	out := pass("first")
	signedIn := false
	for _, e := range out.Events {
		signedIn = signedIn || e.Reason == "AdminTokenObtained"
	}
	tokSecret, ok := objs["Secret/"+resources.AdminTokenSecretName(inst)].(*corev1.Secret)
	if !signedIn || !ok {
		t.Fatalf("the first pass did not sign in and store a token (events %+v)", out.Events)
	}
	token := string(tokSecret.Data[resources.AdminTokenKey])
	blocks, allows := h.perms(t, token, "block"), h.perms(t, token, "allow")
	ours := func(m map[string]perm, domain, public string) {
		t.Helper()
		p, ok := m[domain]
		if !ok || !strings.HasPrefix(p.PrivateComment, drivers.Marker) || p.PublicComment != public {
			t.Fatalf("%s on the server: %+v (present %v), want it marked as ours with public comment %q", domain, p, ok, public)
		}
	}
	ours(blocks, "spam.example", "spam")
	ours(blocks, "bücher.example", "harassment")
	ours(allows, "friends.example", "sister co-op")
	if !blocks["bücher.example"].Obfuscate {
		t.Fatal("bücher.example is not obfuscated")
	}
	for _, d := range []string{"noisy.example", "bigmedia.example"} {
		if _, ok := blocks[d]; ok {
			t.Fatalf("%s (not a suspension) was sent as a block", d)
		}
		if !strings.Contains(strings.Join(inst.Status.Federation.Unsupported, "\n"), d) {
			t.Fatalf("%s is not reported unsupported: %q", d, inst.Status.Federation.Unsupported)
		}
	}

	// 2. Moderators block two domains by hand; the policy drops one of
	// its own and takes up one the moderators blocked.
	ep := &endpoint{url: h.serverURL(), token: token, wire: newWire("")}
	byHand := ep.handMade(t, "block", "handmade.example", "blocked by a moderator")
	shared := ep.handMade(t, "block", "shared-by-hand.example", "blocked by a moderator first")
	gen2 := append([]v1alpha1.PolicyEntry{}, hostedEntries[:4]...)
	gen2 = append(gen2, v1alpha1.PolicyEntry{Domain: "shared-by-hand.example", Action: v1alpha1.ActionSuspend, PublicComment: "also on our list"})
	setPolicy(2, gen2)
	mark := h.server.logSize(t)
	pass("policy changed")
	// The server's log is the check's witness of writes: it must show this
	// pass's delete of bücher.example (its one write).
	if writes := h.server.adminWritesSince(t, mark); len(writes) != 1 || !strings.Contains(writes[0], "method=DELETE") {
		t.Fatalf("the server logged %d admin writes for the policy change, want the one delete:\n%s", len(writes), strings.Join(writes, "\n"))
	}
	blocks = h.perms(t, token, "block")
	if _, ok := blocks["bücher.example"]; ok {
		t.Fatal("bücher.example, dropped from the policy, is still blocked")
	}
	for _, p := range []perm{byHand, shared} {
		if blocks[p.Domain] != p {
			t.Fatalf("hand-made block changed: %+v, want %+v", blocks[p.Domain], p)
		}
	}
	ours(blocks, "spam.example", "spam")

	// 3. Nothing changed: the next pass writes nothing (the server's own
	// request log says so).
	mark = h.server.logSize(t)
	out = pass("re-sync")
	if writes := h.server.adminWritesSince(t, mark); len(writes) != 0 {
		t.Fatalf("re-sync wrote %d times:\n%s", len(writes), strings.Join(writes, "\n"))
	}
	st := inst.Status.Federation
	t.Logf("hosted: %s; %d entries ours, %d not ours, unsupported %q", out.Condition.Message, st.Entries, st.UnmanagedEntries, st.Unsupported)
}

// perms lists a collection of the hosted server.
func (h *hosted) perms(t *testing.T, token, kind string) map[string]perm {
	t.Helper()
	return permsByDomain(t, kind, h.get(t, token, "/api/v1/admin/domain_"+kind+"s"))
}
