package resources

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/software"
)

func TestStepJobs(t *testing.T) {
	inst := mastodonBundled()
	p := profile(t, inst)
	steps, err := p.UpgradePlan("4.4.3", "4.5.2")
	if err != nil {
		t.Fatal(err)
	}
	install, _ := p.UpgradePlan("", "4.5.2")
	tests := []struct {
		step    software.Step
		name    string
		command string
		skip    bool
	}{
		{step: install[0], name: "toot-prepare-4-5-2", command: "bundle exec rails db:prepare"},
		{step: steps[0], name: "toot-migrate-pre-4-5-2", command: "bundle exec rails db:migrate", skip: true},
		{step: steps[2], name: "toot-migrate-post-4-5-2", command: "bundle exec rails db:migrate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := StepJob(inst, p, tt.step, "4.5.2", params)
			if err != nil {
				t.Fatal(err)
			}
			if j.Name != tt.name || j.Kind != "Job" || j.APIVersion != "batch/v1" {
				t.Errorf("job = %s %s %s", j.Name, j.APIVersion, j.Kind)
			}
			if *j.Spec.BackoffLimit > 3 || j.Spec.TTLSecondsAfterFinished != nil {
				t.Errorf("backoffLimit=%d ttl=%v: small backoff, no TTL", *j.Spec.BackoffLimit, j.Spec.TTLSecondsAfterFinished)
			}
			pod := j.Spec.Template.Spec
			if pod.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("restartPolicy = %s", pod.RestartPolicy)
			}
			c := pod.Containers[0]
			if c.Image != "ghcr.io/mastodon/mastodon:v4.5.2" {
				t.Errorf("image = %s: migrations run the new version", c.Image)
			}
			if strings.Join(c.Command, " ") != tt.command {
				t.Errorf("command = %v", c.Command)
			}
			env := envByName(c)
			if got := env["SKIP_POST_DEPLOYMENT_MIGRATIONS"].Value == "true"; got != tt.skip {
				t.Errorf("SKIP_POST_DEPLOYMENT_MIGRATIONS = %v, want %v", got, tt.skip)
			}
			if refOf(env["DB_PASS"]) != "toot-postgres/password" || refOf(env["SECRET_KEY_BASE"]) != "toot-secrets/SECRET_KEY_BASE" {
				t.Error("migrations need the database and the Rails secrets")
			}
			if len(pod.Volumes) != len(p.ScratchDirs) || pod.Affinity != nil {
				t.Errorf("migrations mount no data volume: volumes=%v", pod.Volumes)
			}
			if len(j.OwnerReferences) != 1 || j.Labels[v1alpha1.LabelInstance] != "toot" {
				t.Error("owned and labelled")
			}
			if j.Spec.Template.Annotations[AnnotationRollout] != "" {
				t.Error("a Job's template must not carry the rollout token")
			}
		})
	}
	if _, err := StepJob(inst, p, steps[1], "4.5.2", params); err == nil {
		t.Error("the rollout step is not a Job")
	}
	pre := steps[0]
	j, _ := StepJob(inst, p, pre, "4.5.0-rc.1", Params{})
	if j != nil && j.Name != "toot-migrate-pre-4-5-0-rc-1" {
		t.Errorf("pre-release job name = %s", j.Name)
	}
}

func TestMaintenanceCronJobs(t *testing.T) {
	inst := mastodonBundled()
	crons, err := MaintenanceCronJobs(inst, profile(t, inst), "4.5.2", params)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range crons {
		tmpl := c.Spec.JobTemplate.Spec.Template
		got[c.Name] = c.Spec.Schedule + " " + strings.Join(tmpl.Spec.Containers[0].Command, " ")
		if c.Kind != "CronJob" || *c.Spec.Suspend || c.Spec.ConcurrencyPolicy != "Forbid" || *c.Spec.TimeZone != "Etc/UTC" {
			t.Errorf("%s: kind=%s suspend=%v concurrency=%s", c.Name, c.Kind, *c.Spec.Suspend, c.Spec.ConcurrencyPolicy)
		}
		if tmpl.Labels[LabelData] != "true" {
			t.Errorf("%s must mount the media volume", c.Name)
		}
	}
	want := map[string]string{
		"toot-media-remove":         "0 3 * * 0 bin/tootctl media remove",
		"toot-preview-cards-remove": "30 3 * * 0 bin/tootctl preview_cards remove",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	inst.Spec.Suspend = true
	crons, _ = MaintenanceCronJobs(inst, profile(t, inst), "4.5.2", params)
	for _, c := range crons {
		if !*c.Spec.Suspend {
			t.Errorf("%s runs while the Instance is suspended", c.Name)
		}
	}
	g := gotosocialSQLite()
	if crons, _ := MaintenanceCronJobs(g, profile(t, g), "0.20.1", params); len(crons) != 0 {
		t.Errorf("gotosocial cronjobs = %d", len(crons))
	}
}

func TestAdminJobMastodon(t *testing.T) {
	inst := mastodonBundled()
	j, err := AdminJob(inst, profile(t, inst), "4.5.2", params)
	if err != nil {
		t.Fatal(err)
	}
	if j.Name != "toot-admin-bootstrap" {
		t.Errorf("name = %s", j.Name)
	}
	pod := j.Spec.Template.Spec
	if len(pod.InitContainers) != 1 || pod.InitContainers[0].Name != "account" || pod.Containers[0].Name != "token" {
		t.Fatalf("containers: init=%v main=%v", pod.InitContainers, pod.Containers)
	}
	acct := pod.InitContainers[0]
	if !strings.Contains(acct.Command[2], `tootctl accounts create "$ADMIN_USERNAME" --email "$ADMIN_EMAIL" --confirmed --role Owner`) {
		t.Errorf("account command = %v", acct.Command)
	}
	env := envByName(acct)
	if env["ADMIN_USERNAME"].Value != "admin" || env["ADMIN_EMAIL"].Value != "admin@riverside.example" {
		t.Errorf("account env = %v", acct.Env)
	}
	tok := envByName(pod.Containers[0])
	if refOf(tok["ADMIN_TOKEN"]) != "toot-admin/token" {
		t.Errorf("ADMIN_TOKEN from %q", refOf(tok["ADMIN_TOKEN"]))
	}
	if strings.Join(pod.Containers[0].Command[:4], " ") != "bundle exec rails runner" {
		t.Errorf("token command = %v", pod.Containers[0].Command[:4])
	}
	if pod.Affinity != nil {
		t.Error("the Mastodon admin job needs no data volume")
	}
	none := mastodonBundled()
	none.Spec.Admin = nil
	if j, _ := AdminJob(none, profile(t, none), "4.5.2", params); j != nil {
		t.Error("no admin job without spec.admin")
	}
}

func TestAdminJobGoToSocial(t *testing.T) {
	inst := gotosocialSQLite()
	j, err := AdminJob(inst, profile(t, inst), "0.20.1", params)
	if err != nil {
		t.Fatal(err)
	}
	pod := j.Spec.Template.Spec
	if len(pod.InitContainers) != 0 || len(pod.Containers) != 1 {
		t.Fatalf("containers = %d+%d", len(pod.InitContainers), len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != "docker.io/superseriousbusiness/gotosocial:0.20.1" || !strings.Contains(c.Command[2], "admin account promote") {
		t.Errorf("container = %s %v", c.Image, c.Command)
	}
	if refOf(envByName(c)["ADMIN_PASSWORD"]) != "social-admin/password" {
		t.Error("ADMIN_PASSWORD from the admin Secret")
	}
	// The sqlite database is on the data volume: mount it, on its node.
	if j.Spec.Template.Labels[LabelData] != "true" || pod.Affinity == nil {
		t.Error("the gotosocial admin job must mount the data volume next to the server")
	}
}

func TestRegistrationsJob(t *testing.T) {
	inst := mastodonExternal()
	j, err := RegistrationsJob(inst, profile(t, inst), "4.4.3", "", 1, params)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(j.Name, "ext-reg-") || strings.Join(j.Spec.Template.Spec.Containers[0].Command, " ") != "bin/tootctl settings registrations close" {
		t.Errorf("job = %s %v", j.Name, j.Spec.Template.Spec.Containers[0].Command)
	}
	if j.Annotations[AnnotationRegistrations] != "closed" {
		t.Errorf("annotations = %v", j.Annotations)
	}
	// Back to a mode applied before: a new Job, not the old complete one.
	again, err := RegistrationsJob(inst, profile(t, inst), "4.4.3", "ext-reg-0000000000", 2, params)
	if err != nil {
		t.Fatal(err)
	}
	if again.Name == j.Name {
		t.Errorf("a Job after another must have a new name, got %s twice", j.Name)
	}
	g := gotosocialSQLite()
	if j, _ := RegistrationsJob(g, profile(t, g), "0.20.1", "", 1, params); j != nil {
		t.Error("gotosocial registrations are configuration")
	}
}
