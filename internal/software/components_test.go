package software

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

func mustVersion(t *testing.T, s string) Version {
	t.Helper()
	v, err := ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestGoToSocialComponents(t *testing.T) {
	comps := GoToSocial.Components(mustVersion(t, "0.20.1"))
	if len(comps) != 1 {
		t.Fatalf("components = %d, want 1", len(comps))
	}
	web := comps[0]
	if web.Name != "web" || web.Scalable || web.Strategy != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("web = %s scalable=%v strategy=%s, want web, not scalable, Recreate", web.Name, web.Scalable, web.Strategy)
	}
	if web.Port == nil || web.Port.Port != 8080 {
		t.Errorf("port = %v, want 8080", web.Port)
	}
	if p := web.Probes.Readiness.HTTPGet.Path; p != "/readyz" {
		t.Errorf("readiness = %s, want /readyz", p)
	}
	if p := web.Probes.Liveness.HTTPGet.Path; p != "/livez" {
		t.Errorf("liveness = %s, want /livez", p)
	}
	s := web.Probes.Startup
	if budget := s.PeriodSeconds * s.FailureThreshold; budget < 20*60 {
		t.Errorf("startup budget = %ds, want at least 20 minutes for migrations", budget)
	}
	if strings.Join(append(web.Command, web.Args...), " ") != "/gotosocial/gotosocial server start" {
		t.Errorf("command = %v %v", web.Command, web.Args)
	}
	if !web.MountsData || !web.AdminAPI {
		t.Error("web must mount the data volume and serve the admin API")
	}
}

func TestMastodonComponents(t *testing.T) {
	tests := []struct {
		version    string
		wantQueues string
	}{
		{version: "4.3.8", wantQueues: "-q default,8 -q push,6 -q ingress,4 -q mailers,2 -q pull"},
		{version: "4.4.3", wantQueues: "-q default,8 -q push,6 -q ingress,4 -q mailers,2 -q pull -q fasp"},
		{version: "4.5.2", wantQueues: "-q default,8 -q push,6 -q ingress,4 -q mailers,2 -q pull -q fasp"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			v := mustVersion(t, tt.version)
			byName := map[string]Component{}
			for _, c := range Mastodon.Components(v) {
				byName[c.Name] = c
			}
			if len(byName) != 4 {
				t.Fatalf("components = %v, want web, streaming, sidekiq, scheduler", byName)
			}

			web := byName["web"]
			if web.Port.Port != 3000 || web.Probes.Readiness.HTTPGet.Path != "/health" || web.Probes.Startup.HTTPGet.Path != "/health" {
				t.Errorf("web port/probes = %d %s", web.Port.Port, web.Probes.Readiness.HTTPGet.Path)
			}
			if web.Probes.Liveness.TCPSocket == nil {
				t.Error("web liveness should be a TCP check")
			}
			if strings.Join(web.Command, " ") != "bundle exec puma -C config/puma.rb" {
				t.Errorf("web command = %v", web.Command)
			}
			if strings.Join(web.Routes, ",") != "/" || !web.AdminAPI {
				t.Errorf("web routes = %v admin=%v", web.Routes, web.AdminAPI)
			}

			st := byName["streaming"]
			if st.Image != "streaming" || st.Port.Port != 4000 || st.Probes.Readiness.HTTPGet.Path != "/api/v1/streaming/health" || st.Probes.Liveness.HTTPGet.Path != "/api/v1/streaming/health" {
				t.Errorf("streaming = image %q port %d", st.Image, st.Port.Port)
			}
			if strings.Join(st.Routes, ",") != "/api/v1/streaming" || st.MountsData {
				t.Errorf("streaming routes = %v mountsData = %v", st.Routes, st.MountsData)
			}

			sk := byName["sidekiq"]
			cmd := strings.Join(sk.Command, " ")
			if !strings.HasSuffix(cmd, tt.wantQueues) || !strings.HasPrefix(cmd, "bundle exec sidekiq -c 25 ") {
				t.Errorf("sidekiq = %s, want queues %s", cmd, tt.wantQueues)
			}
			if strings.Contains(cmd, "scheduler") {
				t.Error("the general sidekiq must not process the scheduler queue")
			}
			if !sk.Scalable || sk.Port != nil {
				t.Errorf("sidekiq scalable=%v port=%v", sk.Scalable, sk.Port)
			}

			sc := byName["scheduler"]
			if got := strings.Join(sc.Command, " "); got != "bundle exec sidekiq -c 5 -q scheduler" {
				t.Errorf("scheduler = %s", got)
			}
			if sc.Scalable || sc.Strategy != appsv1.RecreateDeploymentStrategyType {
				t.Errorf("scheduler scalable=%v strategy=%s, want exactly one, Recreate", sc.Scalable, sc.Strategy)
			}
		})
	}
}

func TestProfileFacts(t *testing.T) {
	if GoToSocial.UID != 1000 || GoToSocial.GID != 1000 || Mastodon.UID != 991 || Mastodon.GID != 991 {
		t.Error("UID/GID: gotosocial 1000, mastodon 991")
	}
	if GoToSocial.DataMountPath != "/gotosocial/storage" || Mastodon.DataMountPath != "/opt/mastodon/public/system" {
		t.Error("data mount paths")
	}
	if !GoToSocial.Database.SQLite || GoToSocial.Database.DefaultEngine != "sqlite" || GoToSocial.NeedsRedis {
		t.Error("gotosocial: sqlite by default, no redis")
	}
	if Mastodon.Database.SQLite || Mastodon.Database.DefaultEngine != "postgres" || !Mastodon.NeedsRedis {
		t.Error("mastodon: postgres, redis")
	}
	for _, p := range []*Profile{GoToSocial, Mastodon} {
		if p.ReadOnlyRootFilesystem && len(p.ScratchDirs) == 0 {
			t.Errorf("%s: a read-only root needs scratch dirs", p.Software)
		}
		if !strings.Contains(strings.Join(p.ScratchDirs, ","), "/tmp") {
			t.Errorf("%s: /tmp must be writable", p.Software)
		}
	}
}
