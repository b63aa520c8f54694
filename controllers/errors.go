package controllers

import (
	"errors"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
)

// stalledError is a failure retrying cannot fix: the object goes Stalled
// with a reason and a message telling the sysadmin what to change, and the
// reconciler waits for the next spec change instead of hot-looping.
type stalledError struct {
	reason  string
	message string
}

func (e *stalledError) Error() string { return e.message }

func stalled(reason, message string) error { return &stalledError{reason: reason, message: message} }

func asStalled(err error, target **stalledError) bool { return errors.As(err, target) }

// isNoMatch reports whether the API server does not serve the kind at all
// (its CRD is not installed).
func isNoMatch(err error) bool { return meta.IsNoMatchError(err) || discoveryNotFound(err) }

func discoveryNotFound(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no matches for kind")
}
