package manager

import (
	"encoding/json"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/backup"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

// toot is a Mastodon with a bundled database and backups: every kind the
// transform slims is built for it by the operator's own builders.
func toot() *v1alpha1.Instance {
	return &v1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "toot", UID: "uid-toot"},
		Spec: v1alpha1.InstanceSpec{Software: v1alpha1.SoftwareMastodon, Version: "4.5.2", Domain: "toot.riverside.example",
			Backup: &v1alpha1.BackupSpec{Schedule: "0 3 * * *", Destination: v1alpha1.BackupDestination{PVC: &v1alpha1.BackupPVC{ClaimName: "backups"}}}},
	}
}

// live makes a built object look as the API server returns it: server
// fields, managedFields, a kubectl last-applied copy, a status.
func live[T client.Object](t *testing.T, obj T) T {
	t.Helper()
	obj.SetResourceVersion("4711")
	obj.SetGeneration(3)
	obj.SetCreationTimestamp(metav1.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC))
	obj.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "fedcommons", Operation: metav1.ManagedFieldsOperationApply}})
	whole, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[lastApplied] = string(whole)
	a["fedcommons.io/kept"] = "yes"
	obj.SetAnnotations(a)
	return obj
}

func transform(t *testing.T, in any) any {
	t.Helper()
	out, err := slimTransform()(in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func size(t *testing.T, obj any) int {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

func checkMeta(t *testing.T, obj client.Object) {
	t.Helper()
	if obj.GetResourceVersion() != "4711" || obj.GetGeneration() != 3 || obj.GetCreationTimestamp().Time.IsZero() {
		t.Errorf("%s: resourceVersion, generation or creation time lost: %q %d %v", obj.GetName(), obj.GetResourceVersion(), obj.GetGeneration(), obj.GetCreationTimestamp())
	}
	if obj.GetManagedFields() != nil {
		t.Errorf("%s: managedFields kept", obj.GetName())
	}
	if _, ok := obj.GetAnnotations()[lastApplied]; ok {
		t.Errorf("%s: last-applied annotation kept", obj.GetName())
	}
	if obj.GetAnnotations()["fedcommons.io/kept"] != "yes" {
		t.Errorf("%s: other annotations lost: %v", obj.GetName(), obj.GetAnnotations())
	}
	if len(obj.GetLabels()) == 0 || len(obj.GetOwnerReferences()) == 0 {
		t.Errorf("%s: labels or owner references lost (watches map by them): %v %v", obj.GetName(), obj.GetLabels(), obj.GetOwnerReferences())
	}
}

// Each kind keeps what its readers read (transform.go lists them) and
// loses its pod template, which is most of its size.
func TestSlimTransformKeepsWhatReadersUse(t *testing.T) {
	inst := toot()
	objs, err := resources.Desired(inst, software.Mastodon, "4.5.2", resources.Params{Community: "riverside"})
	if err != nil {
		t.Fatal(err)
	}
	var deployments, statefulsets int
	for _, obj := range objs {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			deployments++
			o = live(t, o)
			o.Status = appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Message: "Deployment has minimum availability."}}}
			replicas := *o.Spec.Replicas
			before := size(t, o)
			got := transform(t, o).(*appsv1.Deployment)
			checkMeta(t, got)
			if got.Spec.Replicas == nil || *got.Spec.Replicas != replicas || got.Status.AvailableReplicas != 1 || got.Status.ObservedGeneration != 3 {
				t.Errorf("Deployment %s: replicas or status lost: %+v %+v", got.Name, got.Spec.Replicas, got.Status)
			}
			if len(got.Spec.Template.Spec.Containers) != 0 || got.Status.Conditions != nil {
				t.Errorf("Deployment %s: pod template or status conditions kept", got.Name)
			}
			if after := size(t, got); after*4 > before {
				t.Errorf("Deployment %s: %d bytes of JSON before, %d after: expected less than a quarter", got.Name, before, after)
			}
		case *appsv1.StatefulSet:
			statefulsets++
			o = live(t, o)
			o.Status = appsv1.StatefulSetStatus{ObservedGeneration: 3, ReadyReplicas: 1,
				Conditions: []appsv1.StatefulSetCondition{{Type: "Unknown", Status: corev1.ConditionTrue, Message: "a condition nobody reads"}}}
			claims := o.Spec.VolumeClaimTemplates
			got := transform(t, o).(*appsv1.StatefulSet)
			checkMeta(t, got)
			if got.Spec.Replicas == nil || got.Status.ReadyReplicas != 1 || got.Status.ObservedGeneration != 3 {
				t.Errorf("StatefulSet %s: replicas or status lost", got.Name)
			}
			if len(claims) == 0 || size(t, got.Spec.VolumeClaimTemplates) != size(t, claims) {
				t.Errorf("StatefulSet %s: volume claim templates not kept as they were (%d of them)", got.Name, len(claims))
			}
			if len(got.Spec.Template.Spec.Containers) != 0 || got.Status.Conditions != nil {
				t.Errorf("StatefulSet %s: pod template or status conditions kept", got.Name)
			}
		}
	}
	if deployments == 0 || statefulsets == 0 {
		t.Fatalf("the builders gave %d Deployments and %d StatefulSets: the test needs both", deployments, statefulsets)
	}

	// A backup before an upgrade: its name is read back from the Job.
	in := backup.Input{Instance: inst, Profile: software.Mastodon, Version: "4.5.2", PostgresServerImage: resources.PostgresImage,
		Params: resources.Params{Community: "riverside"}, AgentImage: "ghcr.io/fedcommons/fedcommons:v1"}
	job, err := backup.BackupJob(in, "toot-backup-4-5-2", "20261201T030000Z")
	if err != nil {
		t.Fatal(err)
	}
	job = live(t, job)
	job.Status = batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}
	before := size(t, job)
	gotJob := transform(t, job).(*batchv1.Job)
	checkMeta(t, gotJob)
	if n := backup.NameOf(gotJob); n != "20261201T030000Z" {
		t.Errorf("backup.NameOf on the cached Job = %q", n)
	}
	if st, _, _ := backup.StateOf(gotJob); st != backup.Succeeded {
		t.Errorf("Job status lost: %+v", gotJob.Status)
	}
	for _, c := range gotJob.Spec.Template.Spec.Containers {
		if len(c.Env) > 1 || c.Image != "" || len(c.Command) > 0 {
			t.Errorf("Job container %s: more than the backup's name kept: %+v", c.Name, c)
		}
	}
	if after := size(t, gotJob); after*4 > before {
		t.Errorf("Job: %d bytes of JSON before, %d after: expected less than a quarter", before, after)
	}

	cj, err := backup.BackupCronJob(in)
	if err != nil {
		t.Fatal(err)
	}
	cj = live(t, cj)
	gotCJ := transform(t, cj).(*batchv1.CronJob)
	checkMeta(t, gotCJ)
	if !metav1.IsControlledBy(gotCJ, inst) || len(gotCJ.Spec.JobTemplate.Spec.Template.Spec.Containers) != 0 {
		t.Errorf("CronJob: owner lost or job template kept")
	}
}

// A Community is written back whole (its finalizer, by Update): dropping
// kubectl's annotation from the cached copy would erase it on the server.
func TestSlimTransformKeepsCommunitiesWhole(t *testing.T) {
	c := &v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: "riverside",
		Annotations: map[string]string{lastApplied: `{"kind":"Community"}`}}}
	got := transform(t, c).(*v1alpha1.Community)
	if got.Annotations[lastApplied] == "" {
		t.Error("the Community's last-applied annotation was dropped")
	}

	// Instances lose it: nothing writes them back whole.
	inst := toot()
	inst.Annotations = map[string]string{lastApplied: `{"kind":"Instance"}`}
	if _, ok := transform(t, inst).(*v1alpha1.Instance).Annotations[lastApplied]; ok {
		t.Error("the Instance's last-applied annotation was kept")
	}
}

// Deletions the informer missed arrive as tombstones: passed on as they are.
func TestSlimTransformPassesTombstones(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(1)),
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web"}}}}}}
	tomb := toolscache.DeletedFinalStateUnknown{Key: "riverside/web", Obj: d}
	if got, ok := transform(t, tomb).(toolscache.DeletedFinalStateUnknown); !ok || got.Key != "riverside/web" {
		t.Errorf("tombstone not passed on: %#v", got)
	}
}
