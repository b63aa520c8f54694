package devcluster

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/backup"
	"github.com/fedcommons/fedcommons/internal/backup/agent"
)

// backupStandIn plays the kubelet for the pods of backup Jobs, which kwok
// leaves Running (localcluster.Options.LeaveRunning): it runs the pod's
// own containers — the operator's backup script, checked to be exactly
// backup.BackupScript(), with sh on this host, then the backup agent's
// seal, the operator's code, in this process — each volume of the pod
// mapped to a directory of this host (a claim to the one the storage
// stand-in gave it, a Secret to its keys as files), then writes
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
	tmp, err := os.MkdirTemp("", "fedcommons-demo-backup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	volumes, err := s.hostVolumes(ctx, pod, tmp)
	if err != nil {
		return s.finish(ctx, pod, 1, "demo stand-in: "+err.Error())
	}
	// As a kubelet: the init containers one after the other, each only
	// once the one before succeeded, then the main container, whose
	// termination message is the pod's.
	containers := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	code, msg := 0, ""
	for _, c := range containers {
		if code, msg, err = s.runContainer(ctx, pod, c, volumes, tmp); err != nil {
			return s.finish(ctx, pod, 1, "demo stand-in: "+err.Error())
		}
		if code != 0 {
			break
		}
	}
	return s.finish(ctx, pod, int32(code), msg)
}

// runContainer runs one container of a backup pod: the operator's backup
// script, checked to be exactly backup.BackupScript(), with sh on this
// host; or the backup agent's "seal", the operator's own code, in this
// process (as the operator's image would run it). Nothing else.
func (s *backupStandIn) runContainer(ctx context.Context, pod *corev1.Pod, c corev1.Container, volumes map[string]string, tmp string) (int, string, error) {
	script := len(c.Command) == 3 && c.Command[0] == "/bin/sh" && c.Command[1] == "-c" && c.Command[2] == backup.BackupScript()
	seal := slices.Equal(c.Command, []string{backup.AgentBinary, "backup-agent", "seal"})
	if !script && !seal {
		return 0, "", fmt.Errorf("container %s does not run fedcommons' backup script or its agent's seal; the stand-in runs nothing else", c.Name)
	}
	if script && envOf(c, "DB_KIND") != "sqlite" {
		return 0, "", fmt.Errorf("the demo runs SQLite backups only")
	}
	mounts, err := containerMounts(c, volumes, filepath.Join(tmp, c.Name+"-root"))
	if err != nil {
		return 0, "", err
	}
	termLog := filepath.Join(tmp, c.Name+"-termination-log")
	env := map[string]string{"PATH": os.Getenv("PATH")}
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			if v, err = s.secretValue(ctx, pod.Namespace, e); err != nil {
				return 0, "", err
			}
		}
		switch {
		case e.Name == "TERMINATION_LOG" && v == "/dev/termination-log":
			v = termLog
		case e.Name == "HOME":
			v = tmp
		default:
			v = mapPath(v, mounts)
		}
		env[e.Name] = v
	}
	if db := envOf(c, "SQLITE_DB"); script && db != "" {
		if err := s.placeholderDatabase(ctx, pod, mapPath(db, mounts)); err != nil {
			return 0, "", err
		}
	}
	var out bytes.Buffer
	code := 0
	if script {
		cmd := exec.CommandContext(ctx, "sh", "-c", c.Command[2])
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Stdout, cmd.Stderr, cmd.Dir = &out, &out, tmp
		if err := cmd.Run(); err != nil {
			code = 1
			if x, ok := err.(*exec.ExitError); ok {
				code = x.ExitCode()
			}
		}
	} else if err := agent.Run(ctx, []string{"seal"}, func(k string) string { return env[k] }, backup.PruneFunc, &out); err != nil {
		fmt.Fprintln(&out, err)
		code = 1
	}
	msg, _ := os.ReadFile(termLog)
	if code != 0 || len(msg) == 0 {
		// FallbackToLogsOnError: the end of the log.
		msg = out.Bytes()[max(0, out.Len()-2048):]
	}
	s.log.Info("demo stand-in ran a backup pod's container on this host", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "exitCode", code, "output", out.String())
	return code, string(msg), nil
}

// secretValue resolves an environment variable taken from a Secret's key,
// as the kubelet does.
func (s *backupStandIn) secretValue(ctx context.Context, ns string, e corev1.EnvVar) (string, error) {
	ref := e.ValueFrom.SecretKeyRef
	if ref == nil {
		return "", fmt.Errorf("%s comes from something other than a Secret's key", e.Name)
	}
	secret := &corev1.Secret{}
	if err := s.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, secret); err != nil {
		return "", fmt.Errorf("%s: %w", e.Name, err)
	}
	v, ok := secret.Data[ref.Key]
	if !ok {
		return "", fmt.Errorf("%s: Secret %s has no key %s", e.Name, ref.Name, ref.Key)
	}
	return string(v), nil
}

// hostVolumes gives each volume of the pod a directory of this host,
// shared by its containers as a kubelet shares them: a claim's volume is
// the storage stand-in's directory for it, an emptyDir a fresh directory,
// a Secret a directory with a file per key (an optional Secret that does
// not exist, an empty one).
func (s *backupStandIn) hostVolumes(ctx context.Context, pod *corev1.Pod, tmp string) (map[string]string, error) {
	out := map[string]string{}
	for _, vol := range pod.Spec.Volumes {
		switch {
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
			out[vol.Name] = pv.Spec.HostPath.Path
		case vol.EmptyDir != nil, vol.Secret != nil:
			dir, err := os.MkdirTemp(tmp, "volume-")
			if err != nil {
				return nil, err
			}
			out[vol.Name] = dir
			if vol.Secret != nil {
				if err := s.secretFiles(ctx, pod.Namespace, vol.Secret, dir); err != nil {
					return nil, err
				}
			}
		default:
			return nil, fmt.Errorf("volume %s is not a claim, an emptyDir or a Secret", vol.Name)
		}
	}
	return out, nil
}

func (s *backupStandIn) secretFiles(ctx context.Context, ns string, src *corev1.SecretVolumeSource, dir string) error {
	secret := &corev1.Secret{}
	err := s.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: src.SecretName}, secret)
	if apierrors.IsNotFound(err) && src.Optional != nil && *src.Optional {
		return nil
	}
	if err != nil {
		return err
	}
	for k, v := range secret.Data {
		if err := os.WriteFile(filepath.Join(dir, k), v, 0o400); err != nil {
			return err
		}
	}
	return nil
}

// containerMounts maps each mount path of a container to its volume's
// host directory. A directory holding mounts without being one (the
// agent's /secrets, a directory per Secret) maps to a directory under
// root laid out as the container sees it, with a copy of each mount.
func containerMounts(c corev1.Container, volumes map[string]string, root string) (map[string]string, error) {
	out := map[string]string{}
	for _, m := range c.VolumeMounts {
		dir, ok := volumes[m.Name]
		if !ok {
			return nil, fmt.Errorf("mount %s names no volume", m.Name)
		}
		out[m.MountPath] = dir
	}
	mounted := maps.Clone(out)
	for p, dir := range mounted {
		parent := filepath.Dir(p)
		if _, ok := mounted[parent]; ok || parent == "/" || parent == "." {
			continue
		}
		// A copy, not a link: a mount is a directory to whoever lists
		// its parent. Only the agent's Secrets are mounted this way, a
		// few small files each, read once.
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			return nil, err
		}
		if err := os.CopyFS(filepath.Join(root, p), os.DirFS(dir)); err != nil {
			return nil, err
		}
		out[p] = filepath.Join(root, p)
		out[parent] = filepath.Join(root, parent)
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
