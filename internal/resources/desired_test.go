package resources

import (
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

func TestDesired(t *testing.T) {
	tests := []struct {
		name  string
		inst  *v1alpha1.Instance
		kinds string
	}{
		{name: "gotosocial sqlite", inst: gotosocialSQLite(),
			kinds: "Certificate,Deployment,Ingress,NetworkPolicy,PersistentVolumeClaim,Service"},
		{name: "mastodon bundled", inst: mastodonBundled(),
			kinds: "Certificate,CronJob,CronJob,Deployment,Deployment,Deployment,Deployment,Ingress,NetworkPolicy,NetworkPolicy,NetworkPolicy,PersistentVolumeClaim,Service,Service,Service,Service,StatefulSet,StatefulSet"},
		{name: "mastodon external", inst: mastodonExternal(),
			kinds: "CronJob,CronJob,Deployment,Deployment,Deployment,Deployment,HTTPRoute,NetworkPolicy,Service,Service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Desired(tt.inst, profile(t, tt.inst), tt.inst.Spec.Version, params)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, o := range objs {
				gvk := o.GetObjectKind().GroupVersionKind()
				kinds = append(kinds, gvk.Kind)
				id := gvk.Kind + "/" + o.GetName()
				if gvk.Version == "" || gvk.Kind == "" {
					t.Errorf("%s has no TypeMeta (server-side apply needs it)", id)
				}
				if o.GetNamespace() != "riverside" || !strings.HasPrefix(o.GetName(), tt.inst.Name) {
					t.Errorf("%s in %q: names derive from the Instance, in its namespace", id, o.GetNamespace())
				}
				l := o.GetLabels()
				for k, want := range map[string]string{
					LabelName:               string(tt.inst.Spec.Software),
					LabelAppInstance:        tt.inst.Name,
					v1alpha1.LabelInstance:  tt.inst.Name,
					v1alpha1.LabelCommunity: "riverside",
					v1alpha1.LabelManagedBy: "fedcommons",
				} {
					if l[k] != want {
						t.Errorf("%s label %s = %q, want %q", id, k, l[k], want)
					}
				}
				if l[LabelAppComponent] == "" || l[LabelAppComponent] != l[v1alpha1.LabelComponent] {
					t.Errorf("%s component labels = %q/%q", id, l[LabelAppComponent], l[v1alpha1.LabelComponent])
				}
				retained := gvk.Kind == "PersistentVolumeClaim" && tt.inst.Spec.DeletionPolicy != v1alpha1.DeletionDelete
				refs := o.GetOwnerReferences()
				if retained {
					if len(refs) != 0 {
						t.Errorf("%s is retained data but owned: %v", id, refs)
					}
					continue
				}
				if len(refs) != 1 || refs[0].Kind != "Instance" || refs[0].APIVersion != "fedcommons.io/v1alpha1" || refs[0].Name != tt.inst.Name || refs[0].UID != tt.inst.UID || !*refs[0].Controller {
					t.Errorf("%s owner references = %+v", id, refs)
				}
				if sts, ok := o.(*appsv1.StatefulSet); ok {
					want := appsv1.RetainPersistentVolumeClaimRetentionPolicyType
					if tt.inst.Spec.DeletionPolicy == v1alpha1.DeletionDelete {
						want = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
					}
					if sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted != want {
						t.Errorf("%s PVC retention = %s, want %s", id, sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted, want)
					}
				}
			}
			sort.Strings(kinds)
			if got := strings.Join(kinds, ","); got != tt.kinds {
				t.Errorf("kinds = %s\nwant    %s", got, tt.kinds)
			}
		})
	}
}

func TestDesiredExternalInstance(t *testing.T) {
	inst := &v1alpha1.Instance{ObjectMeta: meta("old"), Spec: v1alpha1.InstanceSpec{
		Software: v1alpha1.SoftwareMastodon, Domain: "old.riverside.example",
		External: &v1alpha1.ExternalServer{URL: "https://old.riverside.example", TokenSecretRef: v1alpha1.SecretKeyReference{Name: "old-token"}},
	}}
	if _, err := Desired(inst, profile(t, inst), "", params); err == nil {
		t.Error("an external instance has nothing to deploy")
	}
}

func TestBundledDatabases(t *testing.T) {
	inst := mastodonBundled()
	p := profile(t, inst)
	pg := PostgresStatefulSet(inst, p, params)
	c := pg.Spec.Template.Spec.Containers[0]
	if c.Image != PostgresImage || *pg.Spec.Template.Spec.SecurityContext.RunAsUser != 70 {
		t.Errorf("postgres image=%s uid=%d", c.Image, *pg.Spec.Template.Spec.SecurityContext.RunAsUser)
	}
	env := envByName(c)
	if env["POSTGRES_USER"].Value != "mastodon" || env["POSTGRES_DB"].Value != "mastodon" || refOf(env["POSTGRES_PASSWORD"]) != "toot-postgres/password" {
		t.Errorf("postgres env = %v", c.Env)
	}
	if pg.Spec.ServiceName != "toot-postgres" || pg.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String() != "10Gi" {
		t.Error("postgres service name and default volume")
	}
	svc := PostgresService(inst, p, params)
	if svc.Spec.ClusterIP != "None" || svc.Spec.Ports[0].Port != 5432 {
		t.Errorf("postgres service = %+v", svc.Spec)
	}
	r := RedisStatefulSet(inst, p, params)
	rc := r.Spec.Template.Spec.Containers[0]
	if rc.Image != RedisImage || strings.Join(rc.Args[:2], " ") != "--requirepass $(REDIS_PASSWORD)" || refOf(envByName(rc)["REDIS_PASSWORD"]) != "toot-redis/password" {
		t.Errorf("redis = %s %v", rc.Image, rc.Args)
	}
	if RedisService(inst, p, params).Spec.Ports[0].Port != 6379 {
		t.Error("redis port")
	}
	g := gotosocialSQLite()
	if PostgresStatefulSet(g, profile(t, g), params) != nil || RedisStatefulSet(g, profile(t, g), params) != nil {
		t.Error("gotosocial on sqlite bundles nothing")
	}
	e := mastodonExternal()
	if PostgresStatefulSet(e, profile(t, e), params) != nil || RedisService(e, profile(t, e), params) != nil {
		t.Error("external database and redis are not bundled")
	}
}

func TestCheckNames(t *testing.T) {
	inst := mastodonBundled()
	if err := CheckNames(inst, profile(t, inst)); err != nil {
		t.Errorf("CheckNames(toot) = %v", err)
	}
	inst.Name = strings.Repeat("a", 40)
	err := CheckNames(inst, profile(t, inst))
	if err == nil || !strings.Contains(err.Error(), "shorter name") {
		t.Errorf("CheckNames(long) = %v, want an error asking for a shorter name", err)
	}
}
