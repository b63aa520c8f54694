package controllers

import "errors"

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
