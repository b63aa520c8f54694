package conformance

import (
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

// hostedProfileCheck runs what the operator generates for a hosted
// GoToSocial (the sample Instance of config/samples) as local processes
// of the real binary: the Deployment's container with its environment as
// generated, only paths, bind address and port remapped to a temp dir;
// then the admin Job's containers, in order, with theirs; then the
// restart the profile asks for. The operator's delivery code then signs
// in with the generated password and pushes a policy, as it would in the
// cluster.
func hostedProfileCheck(t *testing.T, bin string) {
	start := time.Now()
	h := newHosted(t, bin)
	h.server.start(t, h.readyPath, h.serverArgs...)
	t.Cleanup(func() {
		h.server.stop(t)
		if t.Failed() {
			t.Logf("end of the GoToSocial log:\n%s", h.server.tail())
		}
	})
	for _, c := range h.jobContainers {
		cmd, env := h.localize(t, c)
		out := h.server.run(t, env, cmd[0], cmd[1:]...)
		t.Logf("admin Job container %s: %s", c.Name, lastLines(out, 3))
	}
	if !h.profile.Admin.RestartAfter {
		t.Fatal("the GoToSocial profile no longer restarts the server after the admin Job; the check assumes it does")
	}
	h.server.stop(t)
	h.server.start(t, h.readyPath, h.serverArgs...)
	t.Logf("hosted server up, admin made by the generated Job, restarted: %s", time.Since(start).Round(100*time.Millisecond))
	h.deliver(t)
}

// hosted is the sample Instance's generated objects, localised.
type hosted struct {
	inst    *v1alpha1.Instance
	profile *software.Profile
	version string
	secrets map[string]*corev1.Secret
	dir     string
	bin     string

	server        *gtsProcess
	serverArgs    []string
	readyPath     string
	jobContainers []corev1.Container
}

func newHosted(t *testing.T, bin string) *hosted {
	t.Helper()
	data, err := os.ReadFile("../../config/samples/fedcommons_v1alpha1_instance_gotosocial.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inst := &v1alpha1.Instance{}
	if err := yaml.UnmarshalStrict(data, inst); err != nil {
		t.Fatal(err)
	}
	inst.Generation = 1
	profile, err := software.Lookup(inst.Spec.Software)
	if err != nil {
		t.Fatal(err)
	}
	h := &hosted{inst: inst, profile: profile, version: inst.Spec.Version, dir: t.TempDir(), bin: bin, secrets: map[string]*corev1.Secret{}}
	params := resources.Params{Community: inst.Namespace}
	secrets, err := resources.GeneratedSecrets(inst, profile, h.version, params, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		h.secrets[s.Name] = s
	}
	deps, err := resources.Deployments(inst, profile, h.version, params)
	if err != nil || len(deps) != 1 {
		t.Fatalf("Deployments: %d, %v; the check runs GoToSocial's one Deployment", len(deps), err)
	}
	web := webContainer(t, deps[0])
	h.server = &gtsProcess{bin: bin, dir: filepath.Dir(bin), port: freePort(t), log: filepath.Join(h.dir, "gotosocial.log")}
	cmd, env := h.localize(t, web)
	h.server.env, h.serverArgs = env, cmd[1:]
	h.readyPath = web.ReadinessProbe.HTTPGet.Path
	// The restart the operator triggers after the Job carries a rollout
	// token; the environment is the same.
	job, err := resources.AdminJob(inst, profile, h.version, params)
	if err != nil || job == nil {
		t.Fatalf("AdminJob: %v", err)
	}
	h.jobContainers = append(append([]corev1.Container{}, job.Spec.Template.Spec.InitContainers...), job.Spec.Template.Spec.Containers...)
	return h
}

func webContainer(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].ReadinessProbe == nil || cs[0].ReadinessProbe.HTTPGet == nil {
		t.Fatalf("Deployment %s: want one container with an HTTP readiness probe", d.Name)
	}
	return cs[0]
}

// localize turns a generated container into a local command and
// environment. Only what must differ outside a pod changes: the binary's
// path, the data volume's mount path (to a temp dir), the bind address
// (loopback) and the port (a free one). Secret references are resolved
// from the Secrets the operator generated; anything else the check does
// not know how to run fails it, rather than being silently dropped.
func (h *hosted) localize(t *testing.T, c corev1.Container) ([]string, []string) {
	t.Helper()
	const image = "/gotosocial/gotosocial"
	data := h.profile.DataMountPath
	local := func(s string) string {
		s = strings.ReplaceAll(s, image, h.bin)
		return strings.ReplaceAll(s, data, filepath.Join(h.dir, "data"))
	}
	cmd := append(append([]string{}, c.Command...), c.Args...)
	if len(cmd) == 0 {
		t.Fatalf("container %s has no command", c.Name)
	}
	for i := range cmd {
		cmd[i] = local(cmd[i])
	}
	env := baseEnv()
	for _, e := range c.Env {
		v := e.Value
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s, ok := h.secrets[ref.Name]
			if !ok {
				t.Fatalf("container %s: %s refers to Secret %s, which the operator does not generate", c.Name, e.Name, ref.Name)
			}
			v = string(s.Data[ref.Key])
		case e.ValueFrom != nil:
			t.Fatalf("container %s: %s has a valueFrom the check cannot resolve", c.Name, e.Name)
		case e.Name == "GTS_BIND_ADDRESS":
			v = "127.0.0.1"
		case e.Name == "GTS_PORT":
			v = strconv.Itoa(h.server.port)
		default:
			v = local(v)
		}
		env = append(env, e.Name+"="+v)
	}
	if err := os.MkdirAll(filepath.Join(h.dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	return cmd, env
}

// hostedPolicy is the community's FederationPolicy at a generation.
func hostedPolicy(ns string, gen int64, entries []v1alpha1.PolicyEntry) *v1alpha1.FederationPolicy {
	p := &v1alpha1.FederationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared-moderation", Generation: gen},
		Spec:       v1alpha1.FederationPolicySpec{InstanceSelector: &metav1.LabelSelector{}, Entries: entries},
	}
	p.Status.ObservedGeneration = gen
	meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Computed", ObservedGeneration: gen})
	return p
}

// computed is the policy's result as the FederationPolicy controller
// computes it for a policy without sources.
func computed(t *testing.T, p *v1alpha1.FederationPolicy) *federation.Result {
	t.Helper()
	eff, err := moderation.Merge(federation.Input(p, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	return &federation.Result{Policy: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}, Generation: p.Generation,
		Effective: eff, Hash: eff.Hash(), ComputedAt: time.Now()}
}

func ptrTo[T any](v T) *T { return &v }

// serverURL is the hosted server's admin API as the check reaches it: in
// the cluster, the Service.
func (h *hosted) serverURL() string { return h.server.baseURL() }

// get is a raw admin API read with token.
func (h *hosted) get(t *testing.T, token, path string) raw {
	t.Helper()
	ep := &endpoint{url: h.serverURL(), wire: newWire("")}
	return ep.call(t, token, http.MethodGet, path, nil)
}
