package resources

import (
	corev1 "k8s.io/api/core/v1"
)

// RunAs is who a pod's processes run as.
type RunAs struct {
	// UID and GID of every container; GID is also the fsGroup, so volumes
	// are writable by the process.
	UID, GID int64
	// ReadOnlyRootFilesystem when the software writes only to its volumes.
	ReadOnlyRootFilesystem bool
}

// SecurityContexts returns the pod and container security contexts of
// every pod the operator builds. They satisfy the Pod Security "restricted"
// profile: non-root with an explicit UID (an image's USER may be root or a
// name the kubelet cannot check), RuntimeDefault seccomp, no privilege
// escalation, all capabilities dropped. The root filesystem is read-only
// where the software allows it, so a compromised process cannot alter its
// own code.
//
// Each call returns new values, so callers may not share them by accident.
func SecurityContexts(r RunAs) (*corev1.PodSecurityContext, *corev1.SecurityContext) {
	nonRoot := true
	noEscalation := false
	readOnly := r.ReadOnlyRootFilesystem
	uid, gid := r.UID, r.GID
	fsGroup := r.GID
	// Only chown the volume when its root does not match: a volume of media
	// files would otherwise be walked on every start.
	onRootMismatch := corev1.FSGroupChangeOnRootMismatch

	pod := &corev1.PodSecurityContext{
		RunAsNonRoot:        &nonRoot,
		RunAsUser:           &uid,
		RunAsGroup:          &gid,
		FSGroup:             &fsGroup,
		FSGroupChangePolicy: &onRootMismatch,
		SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	cuid, cgid := r.UID, r.GID
	container := &corev1.SecurityContext{
		RunAsNonRoot:             &nonRoot,
		RunAsUser:                &cuid,
		RunAsGroup:               &cgid,
		AllowPrivilegeEscalation: &noEscalation,
		ReadOnlyRootFilesystem:   &readOnly,
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	return pod, container
}

// profileRunAs is who a software's processes run as.
func profileRunAs(uid, gid int64, readOnly bool) RunAs {
	return RunAs{UID: uid, GID: gid, ReadOnlyRootFilesystem: readOnly}
}
