package resources

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/software"
)

func TestSecurityContexts(t *testing.T) {
	for _, ro := range []bool{true, false} {
		pod, c := SecurityContexts(RunAs{UID: 991, GID: 992, ReadOnlyRootFilesystem: ro})
		if !*pod.RunAsNonRoot || *pod.RunAsUser != 991 || *pod.RunAsGroup != 992 || *pod.FSGroup != 992 {
			t.Errorf("pod = %+v", pod)
		}
		if *pod.FSGroupChangePolicy != corev1.FSGroupChangeOnRootMismatch {
			t.Error("fsGroup should change ownership only on root mismatch")
		}
		if pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || c.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Error("seccomp must be RuntimeDefault")
		}
		if !*c.RunAsNonRoot || *c.RunAsUser != 991 || *c.RunAsGroup != 992 {
			t.Errorf("container = %+v", c)
		}
		if *c.AllowPrivilegeEscalation {
			t.Error("privilege escalation allowed")
		}
		if len(c.Capabilities.Drop) != 1 || c.Capabilities.Drop[0] != "ALL" || len(c.Capabilities.Add) != 0 {
			t.Errorf("capabilities = %+v, want drop ALL", c.Capabilities)
		}
		if *c.ReadOnlyRootFilesystem != ro {
			t.Errorf("readOnlyRootFilesystem = %v, want %v", *c.ReadOnlyRootFilesystem, ro)
		}
		if c.Privileged != nil && *c.Privileged {
			t.Error("privileged")
		}
	}
	a, _ := SecurityContexts(RunAs{UID: 1, GID: 1})
	b, _ := SecurityContexts(RunAs{UID: 1, GID: 1})
	*a.RunAsUser = 5
	if *b.RunAsUser != 1 {
		t.Error("calls share pointers")
	}
}

// podTemplates returns every pod template the builders produce for an
// Instance: Deployments, StatefulSets, CronJobs and all Jobs.
func podTemplates(t *testing.T, inst *v1alpha1.Instance) map[string]corev1.PodTemplateSpec {
	t.Helper()
	p := profile(t, inst)
	out := map[string]corev1.PodTemplateSpec{}
	objs, err := Desired(inst, p, inst.Spec.Version, params)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *appsDeployment:
			out["Deployment/"+o.Name] = o.Spec.Template
		case *stsType:
			out["StatefulSet/"+o.Name] = o.Spec.Template
		case *cronJob:
			out["CronJob/"+o.Name] = o.Spec.JobTemplate.Spec.Template
		}
	}
	steps := append(append([]software.Step{}, p.InstallSteps...), p.UpgradeSteps...)
	for _, s := range steps {
		if s.Kind != software.StepJob {
			continue
		}
		j, err := StepJob(inst, p, s, inst.Spec.Version, params)
		if err != nil {
			t.Fatal(err)
		}
		out["Job/"+j.Name] = j.Spec.Template
	}
	registrations := func(inst *v1alpha1.Instance, p *software.Profile, version string, params Params) (*job, error) {
		return RegistrationsJob(inst, p, version, "", 1, params)
	}
	for _, build := range []func(*v1alpha1.Instance, *software.Profile, string, Params) (*job, error){AdminJob, registrations} {
		j, err := build(inst, p, inst.Spec.Version, params)
		if err != nil {
			t.Fatal(err)
		}
		if j != nil {
			out["Job/"+j.Name] = j.Spec.Template
		}
	}
	return out
}

// TestPodSecurityRestricted runs the Kubernetes Pod Security admission
// checks, at the restricted level, over every pod the operator builds.
func TestPodSecurityRestricted(t *testing.T) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	level := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	count := 0
	for _, inst := range []*v1alpha1.Instance{gotosocialSQLite(), mastodonBundled(), mastodonExternal(), hometown()} {
		templates := podTemplates(t, inst)
		if len(templates) == 0 {
			t.Fatalf("%s: no pod templates", inst.Name)
		}
		for name, tmpl := range templates {
			count++
			result := policy.AggregateCheckResults(evaluator.EvaluatePod(level, &tmpl.ObjectMeta, &tmpl.Spec))
			if !result.Allowed {
				t.Errorf("%s %s violates restricted: %s: %s", inst.Name, name, result.ForbiddenReason(), result.ForbiddenDetail())
			}
		}
	}
	// GoToSocial: web + admin; Mastodon bundled: 4 deployments, 2 statefulsets,
	// 2 cronjobs, 3 step jobs, admin, registrations; and so on.
	if count < 30 {
		t.Errorf("checked %d pod templates, expected every builder's", count)
	}
	t.Logf("checked %d pod templates", count)
}

// A privileged pod must fail, or the test above proves nothing.
func TestPodSecurityCheckBites(t *testing.T) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "x", Image: "x"}}}
	result := policy.AggregateCheckResults(evaluator.EvaluatePod(psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}, &metav1.ObjectMeta{}, spec))
	if result.Allowed {
		t.Fatal("a pod without security context passed the restricted check")
	}

}
