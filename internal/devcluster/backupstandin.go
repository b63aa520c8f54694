package devcluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/backup"
)

// backupStandIn plays the kubelet for the pods of backup Jobs, which kwok
// leaves Running (localcluster.Options.LeaveRunning): it runs the pod's
// own command — the operator's backup script, checked to be exactly
// backup.BackupScript() — with sh on this host, each volume of the pod
// mapped to the directory the storage stand-in gave its claim, then writes
// the pod's end (exit code, termination message) as a kubelet would, and
// the Job controller does the rest. kwok runs no GoToSocial, so there is
// no server data: when the data volume has no database yet, the stand-in
// puts a small placeholder SQLite database there, says so in its log and
// in the database itself, and the backup copies that.
type backupStandIn struct {
	c       client.Client
	log     logr.Logger
	volumes string // the storage stand-in's root directory
	done    map[types.UID]bool
}

// maxTermination is the kubelet's bound on a termination message.
const maxTermination = 4096

func (s *backupStandIn) run(ctx context.Context) {
	s.log.Info("demo stand-in for the kubelet of backup pods started: it runs their script on this host", "volumes", s.volumes)
	s.done = map[types.UID]bool{}
	tick := time.NewTicker(standInPeriod)
	defer tick.Stop()
	for {
		if err := s.pass(ctx); err != nil && ctx.Err() == nil {
			s.log.Error(err, "demo stand-in for backup pods")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *backupStandIn) pass(ctx context.Context) error {
	pods := &corev1.PodList{}
	if err := s.c.List(ctx, pods, client.MatchingLabels{v1alpha1.LabelComponent: "backup"}); err != nil {
		return err
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Status.Phase != corev1.PodRunning || s.done[pod.UID] {
			continue
		}
		s.done[pod.UID] = true
		if err := s.runPod(ctx, pod); err != nil {
			return fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	return nil
}

func (s *backupStandIn) runPod(ctx context.Context, pod *corev1.Pod) error {
	c := pod.Spec.Containers[0]
	if len(c.Command) != 3 || c.Command[0] != "/bin/sh" || c.Command[1] != "-c" || c.Command[2] != backup.BackupScript() {
		return s.finish(ctx, pod, 1, "demo stand-in: this pod does not run fedcommons' backup script; the stand-in runs nothing else")
	}
	tmp, err := os.MkdirTemp("", "fedcommons-demo-backup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	mounts, err := s.hostMounts(ctx, pod, c, tmp)
	if err != nil {
		return s.finish(ctx, pod, 1, "demo stand-in: "+err.Error())
	}
	termLog := filepath.Join(tmp, "termination-log")
	env := []string{"PATH=" + os.Getenv("PATH")}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			return s.finish(ctx, pod, 1, "demo stand-in: the backup reads "+e.Name+" from a Secret; the demo runs SQLite backups only")
		}
		v := e.Value
		switch {
		case e.Name == "TERMINATION_LOG":
			v = termLog
		case e.Name == "HOME":
			v = tmp
		default:
			v = mapPath(v, mounts)
		}
		env = append(env, e.Name+"="+v)
	}
	if db := envOf(c, "SQLITE_DB"); db != "" {
		if err := s.placeholderDatabase(ctx, pod, mapPath(db, mounts)); err != nil {
			return s.finish(ctx, pod, 1, "demo stand-in: "+err.Error())
		}
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "sh", "-c", c.Command[2])
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = env, &out, &out, tmp
	code := 0
	if err := cmd.Run(); err != nil {
		code = 1
		if x, ok := err.(*exec.ExitError); ok {
			code = x.ExitCode()
		}
	}
	msg, _ := os.ReadFile(termLog)
	if code != 0 || len(msg) == 0 {
		// FallbackToLogsOnError: the end of the log.
		msg = out.Bytes()[max(0, out.Len()-2048):]
	}
	s.log.Info("demo stand-in ran a backup pod's script on this host", "pod", pod.Namespace+"/"+pod.Name, "exitCode", code, "output", out.String())
	return s.finish(ctx, pod, int32(code), string(msg))
}

// hostMounts maps each mount path of the container to a directory of this
// host: a claim's volume to the storage stand-in's directory for it, an
// emptyDir to a fresh one.
func (s *backupStandIn) hostMounts(ctx context.Context, pod *corev1.Pod, c corev1.Container, tmp string) (map[string]string, error) {
	out := map[string]string{}
	for _, m := range c.VolumeMounts {
		var vol *corev1.Volume
		for i := range pod.Spec.Volumes {
			if pod.Spec.Volumes[i].Name == m.Name {
				vol = &pod.Spec.Volumes[i]
			}
		}
		switch {
		case vol == nil:
			return nil, fmt.Errorf("mount %s names no volume", m.Name)
		case vol.PersistentVolumeClaim != nil:
			pvc := &corev1.PersistentVolumeClaim{}
			if err := s.c.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: vol.PersistentVolumeClaim.ClaimName}, pvc); err != nil {
				return nil, err
			}
			pv := &corev1.PersistentVolume{}
			if err := s.c.Get(ctx, client.ObjectKey{Name: pvc.Spec.VolumeName}, pv); err != nil {
				return nil, fmt.Errorf("claim %s: %w", pvc.Name, err)
			}
			if pv.Labels[LabelStandIn] != pvStandInName || pv.Spec.HostPath == nil || !strings.HasPrefix(pv.Spec.HostPath.Path, s.volumes+string(filepath.Separator)) {
				return nil, fmt.Errorf("claim %s is not on a volume of the storage stand-in", pvc.Name)
			}
			if err := os.MkdirAll(pv.Spec.HostPath.Path, 0o755); err != nil {
				return nil, err
			}
			out[m.MountPath] = pv.Spec.HostPath.Path
		case vol.EmptyDir != nil:
			dir, err := os.MkdirTemp(tmp, "emptydir-")
			if err != nil {
				return nil, err
			}
			out[m.MountPath] = dir
		default:
			return nil, fmt.Errorf("volume %s is neither a claim nor an emptyDir", vol.Name)
		}
	}
	return out, nil
}

// placeholderDatabase puts a small SQLite database where the server's
// would be, when there is none: kwok runs no GoToSocial.
func (s *backupStandIn) placeholderDatabase(ctx context.Context, pod *corev1.Pod, path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	// Made aside and renamed into place: a half-made file must never
	// pass for the server's database on the next attempt.
	note := "placeholder made by the fedcommons-dev backup stand-in: kwok runs no GoToSocial, so this stands for its database"
	sql := fmt.Sprintf("CREATE TABLE demo_note(note TEXT, created TEXT); INSERT INTO demo_note VALUES('%s', '%s');", note, time.Now().UTC().Format(time.RFC3339))
	tmp := path + ".demo-tmp"
	_ = os.Remove(tmp)
	if out, err := exec.CommandContext(ctx, "sqlite3", "-bail", tmp, sql).CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("make a placeholder database at %s: %v: %s", path, err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	s.log.Info("demo stand-in made a placeholder SQLite database for the backup to copy (kwok runs no GoToSocial)", "pod", pod.Namespace+"/"+pod.Name, "path", path)
	return nil
}

// finish writes the pod's end the way a kubelet does.
func (s *backupStandIn) finish(ctx context.Context, pod *corev1.Pod, code int32, message string) error {
	if len(message) > maxTermination {
		message = message[len(message)-maxTermination:]
	}
	now := metav1.Now()
	phase, reason := corev1.PodSucceeded, "Completed"
	if code != 0 {
		phase, reason = corev1.PodFailed, "Error"
	}
	c := pod.Spec.Containers[0]
	pod.Status.Phase = phase
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: c.Name, Image: c.Image, Ready: false,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: code, Reason: reason, Message: message, StartedAt: now, FinishedAt: now,
		}},
	}}
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady || pod.Status.Conditions[i].Type == corev1.ContainersReady {
			pod.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	return s.c.Status().Update(ctx, pod)
}

// mapPath rewrites a path under a mount path to the host directory behind
// it, the longest mount path first.
func mapPath(v string, mounts map[string]string) string {
	paths := make([]string, 0, len(mounts))
	for p := range mounts {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool { return len(paths[i]) > len(paths[j]) })
	for _, p := range paths {
		if v == p || strings.HasPrefix(v, p+"/") {
			return mounts[p] + strings.TrimPrefix(v, p)
		}
	}
	return v
}

func envOf(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}
