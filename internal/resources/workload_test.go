package resources

import (
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

type appsDeployment = appsv1.Deployment

func TestDeploymentsGoToSocial(t *testing.T) {
	inst := gotosocialSQLite()
	ds := mustDeployments(t, inst, "0.20.1")
	if len(ds) != 1 {
		t.Fatalf("deployments = %d, want 1", len(ds))
	}
	d := ds["web"]
	if d.Name != "social-web" || d.Namespace != "riverside" || d.Kind != "Deployment" || d.APIVersion != "apps/v1" {
		t.Errorf("meta = %s/%s %s %s", d.Namespace, d.Name, d.APIVersion, d.Kind)
	}
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("replicas=%d strategy=%s, want 1 Recreate", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.Image != "docker.io/superseriousbusiness/gotosocial:0.20.1" {
		t.Errorf("image = %s", c.Image)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8080 || c.Ports[0].Name != "http" {
		t.Errorf("ports = %v", c.Ports)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/livez" || c.StartupProbe.HTTPGet.Path != "/livez" {
		t.Error("probes: readiness /readyz, liveness and startup /livez")
	}
	if c.StartupProbe.FailureThreshold*c.StartupProbe.PeriodSeconds < 1200 {
		t.Error("startup probe must allow slow migrations")
	}
	env := envByName(c)
	if env["GTS_DB_TYPE"].Value != "sqlite" || env["GTS_HOST"].Value != "social.riverside.example" {
		t.Errorf("env = %v", c.Env)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts["data"] != "/gotosocial/storage" || mounts["scratch-tmp"] != "/tmp" {
		t.Errorf("mounts = %v", mounts)
	}
	pod := d.Spec.Template.Spec
	var claim string
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim != "social-data" {
		t.Errorf("data claim = %q", claim)
	}
	if *pod.SecurityContext.RunAsUser != 1000 || *pod.SecurityContext.FSGroup != 1000 || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("gotosocial runs as 1000 with a read-only root")
	}
	if *pod.AutomountServiceAccountToken || *pod.EnableServiceLinks {
		t.Error("no service account token, no service links")
	}
	if d.Spec.Selector.MatchLabels[v1alpha1.LabelInstance] != "social" || d.Spec.Selector.MatchLabels[v1alpha1.LabelComponent] != "web" {
		t.Errorf("selector = %v", d.Spec.Selector.MatchLabels)
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("template labels do not match the selector on %s", k)
		}
	}
}

func TestDeploymentsMastodon(t *testing.T) {
	inst := mastodonBundled()
	ds := mustDeployments(t, inst, "4.5.2")
	tests := []struct {
		component string
		image     string
		replicas  int32
		strategy  appsv1.DeploymentStrategyType
		port      int32
		mountData bool
	}{
		{"web", "ghcr.io/mastodon/mastodon:v4.5.2", 3, appsv1.RollingUpdateDeploymentStrategyType, 3000, true},
		{"streaming", "ghcr.io/mastodon/mastodon-streaming:v4.5.2", 1, appsv1.RollingUpdateDeploymentStrategyType, 4000, false},
		{"sidekiq", "ghcr.io/mastodon/mastodon:v4.5.2", 1, appsv1.RollingUpdateDeploymentStrategyType, 0, true},
		// spec.components.scheduler.replicas is 4: the scheduler stays at one.
		{"scheduler", "ghcr.io/mastodon/mastodon:v4.5.2", 1, appsv1.RecreateDeploymentStrategyType, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.component, func(t *testing.T) {
			d := ds[tt.component]
			if d == nil {
				t.Fatal("missing")
			}
			if d.Name != "toot-"+tt.component {
				t.Errorf("name = %s", d.Name)
			}
			c := d.Spec.Template.Spec.Containers[0]
			if c.Image != tt.image {
				t.Errorf("image = %s, want %s", c.Image, tt.image)
			}
			if *d.Spec.Replicas != tt.replicas || d.Spec.Strategy.Type != tt.strategy {
				t.Errorf("replicas=%d strategy=%s, want %d %s", *d.Spec.Replicas, d.Spec.Strategy.Type, tt.replicas, tt.strategy)
			}
			if tt.port != 0 && (len(c.Ports) != 1 || c.Ports[0].ContainerPort != tt.port) {
				t.Errorf("ports = %v, want %d", c.Ports, tt.port)
			}
			if tt.port == 0 && len(c.Ports) != 0 {
				t.Errorf("ports = %v, want none", c.Ports)
			}
			hasData := d.Spec.Template.Labels[LabelData] == "true"
			if hasData != tt.mountData {
				t.Errorf("data label = %v, want %v", hasData, tt.mountData)
			}
			if tt.mountData {
				aff := d.Spec.Template.Spec.Affinity.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution
				if len(aff) != 1 || aff[0].TopologyKey != corev1.LabelHostname || aff[0].LabelSelector.MatchLabels[LabelData] != "true" {
					t.Errorf("affinity = %+v, want co-location with the data volume", aff)
				}
			}
			env := envByName(c)
			if got := refOf(env["DB_PASS"]); got != "toot-postgres/password" {
				t.Errorf("DB_PASS from %q", got)
			}
			if got := refOf(env["REDIS_PASSWORD"]); got != "toot-redis/password" {
				t.Errorf("REDIS_PASSWORD from %q", got)
			}
			if env["DB_HOST"].Value != "toot-postgres" || env["REDIS_HOST"].Value != "toot-redis" {
				t.Errorf("DB_HOST=%s REDIS_HOST=%s", env["DB_HOST"].Value, env["REDIS_HOST"].Value)
			}
			_, hasKeyBase := env["SECRET_KEY_BASE"]
			if hasKeyBase == (tt.component == "streaming") {
				t.Errorf("SECRET_KEY_BASE present=%v", hasKeyBase)
			}
			if hasKeyBase && refOf(env["SECRET_KEY_BASE"]) != "toot-secrets/SECRET_KEY_BASE" {
				t.Errorf("SECRET_KEY_BASE from %q", refOf(env["SECRET_KEY_BASE"]))
			}
			for _, e := range c.Env {
				if strings.Contains(e.Name, "PASS") || strings.Contains(e.Name, "SECRET") || strings.Contains(e.Name, "KEY") {
					if e.Value != "" || e.ValueFrom == nil {
						t.Errorf("%s is inlined", e.Name)
					}
				}
			}
			if *d.Spec.Template.Spec.SecurityContext.RunAsUser != 991 {
				t.Error("mastodon runs as 991")
			}
		})
	}
	if got := ds["sidekiq"].Spec.Template.Spec.Containers[0].Resources.Requests.Memory().String(); got != "2Gi" {
		t.Errorf("sidekiq memory request = %s, want the spec's 2Gi", got)
	}
	if got := ds["web"].Spec.Template.Spec.Containers[0].Resources.Requests.Memory().String(); got != "768Mi" {
		t.Errorf("web memory request = %s, want the profile's 768Mi", got)
	}
	if strings.Join(ds["scheduler"].Spec.Template.Spec.Containers[0].Command, " ") != "bundle exec sidekiq -c 5 -q scheduler" {
		t.Error("scheduler command")
	}
}

func TestReplicasSuspend(t *testing.T) {
	for _, inst := range []*v1alpha1.Instance{gotosocialSQLite(), mastodonBundled()} {
		inst.Spec.Suspend = true
		p := profile(t, inst)
		for name, d := range mustDeployments(t, inst, inst.Spec.Version) {
			if *d.Spec.Replicas != 0 {
				t.Errorf("%s %s replicas = %d while suspended", inst.Name, name, *d.Spec.Replicas)
			}
		}
		if pg := PostgresStatefulSet(inst, p, params); pg != nil && *pg.Spec.Replicas != 0 {
			t.Error("bundled postgres keeps running while suspended")
		}
		if r := RedisStatefulSet(inst, p, params); r != nil && *r.Spec.Replicas != 0 {
			t.Error("bundled redis keeps running while suspended")
		}
		if pvc := DataVolumeClaim(inst, p, params); pvc == nil {
			t.Error("suspending must keep the data volume")
		}
	}
}

func TestHometownImages(t *testing.T) {
	ds := mustDeployments(t, hometown(), "4.5.0")
	for comp, want := range map[string]string{
		"web":       "ghcr.io/hometown-fork/hometown:v4.5.0-hometown-1.1.2",
		"sidekiq":   "ghcr.io/hometown-fork/hometown:v4.5.0-hometown-1.1.2",
		"scheduler": "ghcr.io/hometown-fork/hometown:v4.5.0-hometown-1.1.2",
		"streaming": "ghcr.io/mastodon/mastodon-streaming:v4.5.0",
	} {
		if got := ds[comp].Spec.Template.Spec.Containers[0].Image; got != want {
			t.Errorf("%s image = %s, want %s", comp, got, want)
		}
	}
}

func TestDeploymentsUnknownVersion(t *testing.T) {
	inst := gotosocialSQLite()
	_, err := Deployments(inst, profile(t, inst), "0.99.0", params)
	if err == nil || !strings.Contains(err.Error(), "spec.image") {
		t.Errorf("error = %v, want one telling to set spec.image", err)
	}
}

func TestDeploymentsExternalServices(t *testing.T) {
	inst := mastodonExternal()
	ds := mustDeployments(t, inst, "4.4.3")
	env := envByName(ds["web"].Spec.Template.Spec.Containers[0])
	for k, want := range map[string]string{"DB_HOST": "pg.db.svc", "DB_PORT": "5432", "DB_NAME": "ext", "DB_USER": "ext", "DB_SSLMODE": "require", "REDIS_HOST": "redis.cache.svc", "REDIS_PORT": "6379", "S3_BUCKET": "ext-media"} {
		if env[k].Value != want {
			t.Errorf("%s = %q, want %q", k, env[k].Value, want)
		}
	}
	if refOf(env["DB_PASS"]) != "ext-db/password" || refOf(env["REDIS_PASSWORD"]) != "ext-redis/pw" || refOf(env["AWS_SECRET_ACCESS_KEY"]) != "ext-s3/secretAccessKey" {
		t.Errorf("refs: %s %s %s", refOf(env["DB_PASS"]), refOf(env["REDIS_PASSWORD"]), refOf(env["AWS_SECRET_ACCESS_KEY"]))
	}
	for name, d := range ds {
		if d.Spec.Template.Spec.Affinity != nil || d.Spec.Template.Labels[LabelData] != "" {
			t.Errorf("%s: media in S3 needs no data volume nor co-location", name)
		}
	}
}

func TestServices(t *testing.T) {
	inst := mastodonBundled()
	svcs, err := Services(inst, profile(t, inst), "4.5.2", params)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range svcs {
		if s.Kind != "Service" || s.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("%s: %s %s", s.Name, s.Kind, s.Spec.Type)
		}
		got[s.Name] = s.Spec.Ports[0].Name + ":" + itoa(s.Spec.Ports[0].Port) + "->" + s.Spec.Ports[0].TargetPort.String() + " " + s.Spec.Selector[v1alpha1.LabelComponent]
	}
	want := map[string]string{"toot-web": "http:3000->http web", "toot-streaming": "streaming:4000->streaming streaming"}
	if len(got) != len(want) {
		t.Errorf("services = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }
