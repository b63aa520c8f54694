package software

import (
	"strings"
	"testing"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

func TestLookup(t *testing.T) {
	for _, s := range []v1alpha1.Software{v1alpha1.SoftwareGoToSocial, v1alpha1.SoftwareMastodon} {
		p, err := Lookup(s)
		if err != nil {
			t.Fatalf("Lookup(%s): %v", s, err)
		}
		if p.Software != s {
			t.Errorf("Lookup(%s) returned the %s profile", s, p.Software)
		}
	}
	_, err := Lookup("akkoma")
	if err == nil || !strings.Contains(err.Error(), "gotosocial, mastodon") {
		t.Errorf("Lookup(akkoma) error = %v, want one listing the known software", err)
	}
}

func TestModerationDriver(t *testing.T) {
	if GoToSocial.ModerationDriver != "gotosocial" || Mastodon.ModerationDriver != "mastodon" {
		t.Errorf("drivers = %q, %q", GoToSocial.ModerationDriver, Mastodon.ModerationDriver)
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "4.5.2", want: "4.5.2"},
		{in: "v4.5.2", want: "4.5.2"},
		{in: "0.20.1", want: "0.20.1"},
		{in: "4.5.0-rc.1", want: "4.5.0-rc.1"},
		{in: "4.5", wantErr: true},
		{in: "four.five.two", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		v, err := ParseVersion(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseVersion(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && v.String() != tt.want {
			t.Errorf("ParseVersion(%q) = %s, want %s", tt.in, v, tt.want)
		}
	}
}

func TestVersionOrder(t *testing.T) {
	ordered := []string{"4.3.9", "4.4.0-rc.1", "4.4.0", "4.4.10", "4.5.2", "5.0.0"}
	for i := range ordered {
		for j := range ordered {
			a, _ := ParseVersion(ordered[i])
			b, _ := ParseVersion(ordered[j])
			if got, want := a.Less(b), i < j; got != want {
				t.Errorf("%s < %s = %v, want %v", a, b, got, want)
			}
		}
	}
	v, _ := ParseVersion("v4.4.0")
	if !v.AtLeast(4, 4) || v.AtLeast(4, 5) || !v.AtLeast(3, 9) {
		t.Errorf("AtLeast wrong for %s", v)
	}
}

func TestImage(t *testing.T) {
	web := func(p *Profile) Component { c, _ := p.Component(Version{Major: 4, Minor: 5}, "web"); return c }
	streaming, _ := Mastodon.Component(Version{Major: 4, Minor: 5}, "streaming")
	tests := []struct {
		name      string
		p         *Profile
		component Component
		version   string
		override  string
		want      string
		wantErr   []string
	}{
		{name: "gotosocial known", p: GoToSocial, component: web(GoToSocial), version: "0.20.1", want: "docker.io/superseriousbusiness/gotosocial:0.20.1"},
		{name: "gotosocial older known series", p: GoToSocial, component: web(GoToSocial), version: "0.19.2", want: "docker.io/superseriousbusiness/gotosocial:0.19.2"},
		{name: "gotosocial unknown", p: GoToSocial, component: web(GoToSocial), version: "0.21.0", wantErr: []string{"0.21.0", "0.19.x, 0.20.x", "spec.image"}},
		{name: "gotosocial unknown with image", p: GoToSocial, component: web(GoToSocial), version: "0.21.0", override: "registry.example/gts:0.21.0", want: "registry.example/gts:0.21.0"},
		{name: "mastodon web", p: Mastodon, component: web(Mastodon), version: "4.5.2", want: "ghcr.io/mastodon/mastodon:v4.5.2"},
		{name: "mastodon v-prefixed", p: Mastodon, component: web(Mastodon), version: "v4.4.3", want: "ghcr.io/mastodon/mastodon:v4.4.3"},
		{name: "mastodon streaming", p: Mastodon, component: streaming, version: "4.3.8", want: "ghcr.io/mastodon/mastodon-streaming:v4.3.8"},
		{name: "mastodon unknown", p: Mastodon, component: web(Mastodon), version: "4.2.10", wantErr: []string{"4.3.x, 4.4.x, 4.5.x", "spec.image"}},
		{name: "hometown web uses the override", p: Mastodon, component: web(Mastodon), version: "4.5.0", override: "ghcr.io/hometown-fork/hometown:v4.5.0-hometown-1.1.2", want: "ghcr.io/hometown-fork/hometown:v4.5.0-hometown-1.1.2"},
		{name: "hometown streaming stays upstream", p: Mastodon, component: streaming, version: "4.5.0", override: "ghcr.io/hometown-fork/hometown:v4.5.0-hometown-1.1.2", want: "ghcr.io/mastodon/mastodon-streaming:v4.5.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.Image(tt.component, tt.version, tt.override)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Image() = %s, want an error", got)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Image() = %s, want %s", got, tt.want)
			}
		})
	}
}

func stepNames(steps []Step) string {
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.Name + "/" + string(s.Kind)
	}
	return strings.Join(names, ",")
}

func TestUpgradePlan(t *testing.T) {
	tests := []struct {
		name             string
		p                *Profile
		running, desired string
		want             string
		wantErr          bool
	}{
		{name: "mastodon install", p: Mastodon, desired: "4.5.2", want: "prepare/Job,rollout/Rollout"},
		{name: "mastodon upgrade", p: Mastodon, running: "4.4.3", desired: "4.5.2", want: "migrate-pre/Job,rollout/Rollout,migrate-post/Job"},
		{name: "mastodon patch upgrade", p: Mastodon, running: "4.5.1", desired: "v4.5.2", want: "migrate-pre/Job,rollout/Rollout,migrate-post/Job"},
		{name: "mastodon steady", p: Mastodon, running: "4.5.2", desired: "v4.5.2", want: ""},
		{name: "mastodon downgrade", p: Mastodon, running: "4.5.2", desired: "4.4.3", wantErr: true},
		{name: "gotosocial install", p: GoToSocial, desired: "0.20.1", want: "rollout/Rollout"},
		{name: "gotosocial upgrade migrates at start", p: GoToSocial, running: "0.19.1", desired: "0.20.1", want: "rollout/Rollout"},
		{name: "gotosocial downgrade", p: GoToSocial, running: "0.20.1", desired: "0.19.1", wantErr: true},
		{name: "bad version", p: GoToSocial, desired: "latest", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps, err := tt.p.UpgradePlan(tt.running, tt.desired)
			if (err != nil) != tt.wantErr {
				t.Fatalf("UpgradePlan() error = %v, wantErr %v", err, tt.wantErr)
			}
			if got := stepNames(steps); got != tt.want {
				t.Errorf("UpgradePlan() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestMastodonMigrationSteps(t *testing.T) {
	pre, rollout, post := Mastodon.UpgradeSteps[0], Mastodon.UpgradeSteps[1], Mastodon.UpgradeSteps[2]
	if got := strings.Join(pre.Command, " "); got != "bundle exec rails db:migrate" {
		t.Errorf("pre-deploy command = %s", got)
	}
	if len(pre.Env) != 1 || pre.Env[0].Name != "SKIP_POST_DEPLOYMENT_MIGRATIONS" || pre.Env[0].Value != "true" {
		t.Errorf("pre-deploy env = %v, want SKIP_POST_DEPLOYMENT_MIGRATIONS=true", pre.Env)
	}
	if rollout.Kind != StepRollout || rollout.Phase != "Rollout" {
		t.Errorf("second step = %+v, want the rollout", rollout)
	}
	if got := strings.Join(post.Command, " "); got != "bundle exec rails db:migrate" || len(post.Env) != 0 {
		t.Errorf("post-deploy = %s %v, want db:migrate without SKIP_POST_DEPLOYMENT_MIGRATIONS", got, post.Env)
	}
	if got := strings.Join(Mastodon.InstallSteps[0].Command, " "); got != "bundle exec rails db:prepare" {
		t.Errorf("install command = %s", got)
	}
	for _, s := range append(append([]Step{}, Mastodon.InstallSteps...), Mastodon.UpgradeSteps...) {
		if s.Kind == StepJob && s.Component != "web" {
			t.Errorf("step %s runs as %q, want web (the Rails image)", s.Name, s.Component)
		}
	}
}

func TestMaintenance(t *testing.T) {
	got := map[string]string{}
	for _, m := range Mastodon.Maintenance {
		got[m.Name] = m.Schedule + " " + strings.Join(m.Command, " ")
	}
	want := map[string]string{
		"media-remove":         "0 3 * * 0 bin/tootctl media remove",
		"preview-cards-remove": "30 3 * * 0 bin/tootctl preview_cards remove",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("maintenance %s = %q, want %q", k, got[k], v)
		}
	}
	if len(GoToSocial.Maintenance) != 0 {
		t.Errorf("gotosocial maintenance = %v, want none", GoToSocial.Maintenance)
	}
}

func TestRegistrationsCommand(t *testing.T) {
	for r, want := range map[v1alpha1.Registrations]string{
		v1alpha1.RegistrationsOpen:     "bin/tootctl settings registrations open",
		v1alpha1.RegistrationsApproval: "bin/tootctl settings registrations approved",
		v1alpha1.RegistrationsClosed:   "bin/tootctl settings registrations close",
		"":                             "bin/tootctl settings registrations approved",
	} {
		if got := strings.Join(Mastodon.RegistrationsCommand(r), " "); got != want {
			t.Errorf("registrations %q: %s, want %s", r, got, want)
		}
	}
	if GoToSocial.RegistrationsCommand != nil {
		t.Error("gotosocial registrations are configuration, not a command")
	}
}
