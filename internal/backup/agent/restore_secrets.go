package agent

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// PlanSecrets decides which of the backup's Secrets to create. existing
// holds those that already exist in the namespace. Restoring never
// overwrites: a Secret that exists with the same data is already restored
// (a retried Job); one with other data is refused, since the server would
// start with keys that do not match the restored database.
func PlanSecrets(backup, existing Secrets) (create []string, err error) {
	for _, name := range slices.Sorted(maps.Keys(backup)) {
		have, ok := existing[name]
		if !ok {
			create = append(create, name)
			continue
		}
		if !sameData(have, backup[name]) {
			return nil, fmt.Errorf("Secret %s already exists with other data than the backup's: restoring will not overwrite it. If it is a leftover of another Instance, delete it and let the restore run again; otherwise restore into a new Instance of another name", name)
		}
	}
	return create, nil
}

func sameData(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, func(x, y []byte) bool { return bytes.Equal(x, y) })
}

// CreateSecrets creates the backup's Secrets in namespace, as PlanSecrets
// decides: immutable, as the operator makes its generated Secrets, which
// the operator then adopts (labels, owner) as its own.
func CreateSecrets(ctx context.Context, c kubernetes.Interface, namespace string, backup Secrets) ([]string, error) {
	existing := Secrets{}
	for name := range backup {
		s, err := c.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			existing[name] = s.Data
		case apierrors.IsNotFound(err):
		default:
			return nil, fmt.Errorf("reading Secret %s: %w", name, err)
		}
	}
	create, err := PlanSecrets(backup, existing)
	if err != nil {
		return nil, err
	}
	immutable := true
	for _, name := range create {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Type: corev1.SecretTypeOpaque, Immutable: &immutable, Data: backup[name]}
		_, err := c.CoreV1().Secrets(namespace).Create(ctx, s, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// Created since it was read (by the operator, or another
			// attempt): the same rule as for one that existed.
			got, gerr := c.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
			if gerr != nil {
				return nil, fmt.Errorf("reading Secret %s: %w", name, gerr)
			}
			if _, err := PlanSecrets(Secrets{name: backup[name]}, Secrets{name: got.Data}); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("creating Secret %s: %w", name, err)
		}
	}
	return create, nil
}
