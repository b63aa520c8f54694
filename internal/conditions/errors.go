package conditions

import (
	"errors"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// How a reconcile pass that cannot finish says why, the same way in every
// reconciler (after Flux's internal/error): a step returns one of these
// errors, and Record turns it into the kstatus conditions and the result
// controller-runtime acts on.
//
//   - *Stalled: retrying cannot help until a person acts. Stalled=True with
//     the reason and a message that says what to change; no retry (the
//     error is a reconcile.TerminalError, should one ever reach
//     controller-runtime).
//   - *Waiting: the pass waits for something outside it (a Job, children,
//     a source). Reconciling=True; requeued after RequeueAfter, or by a
//     watch when that is zero.
//   - *Retrying: a failure retrying may fix. Reconciling=True with the
//     reason; the error goes back to controller-runtime for backoff.
//   - any other error goes back to controller-runtime for backoff and
//     leaves the conditions as they are: a cache read that failed says
//     nothing about the object.

// Stalled is a failure retrying cannot fix.
type Stalled struct {
	// Reason is the Stalled condition's reason (a v1alpha1.Reason*).
	Reason string
	// Message tells the sysadmin what to change.
	Message string
}

// Stall says a pass cannot go on until a person acts.
func Stall(reason, message string) error { return &Stalled{Reason: reason, Message: message} }

func (e *Stalled) Error() string { return e.Message }

// Unwrap makes a Stalled error terminal for controller-runtime:
// errors.Is(err, reconcile.TerminalError(nil)) holds.
func (e *Stalled) Unwrap() error { return reconcile.TerminalError(errors.New(e.Message)) }

// Waiting is a pass that waits for something outside it.
type Waiting struct {
	// Reason is the Reconciling condition's reason (a v1alpha1.Reason*).
	Reason string
	// Message says what the pass waits for.
	Message string
	// RequeueAfter brings the object back; zero leaves it to a watch.
	RequeueAfter time.Duration
}

// Wait says a pass waits for something, and when to look again (zero: a
// watch brings the object back).
func Wait(reason, message string, requeueAfter time.Duration) error {
	return &Waiting{Reason: reason, Message: message, RequeueAfter: requeueAfter}
}

func (e *Waiting) Error() string { return e.Message }

// Retrying is a failure retrying with backoff may fix.
type Retrying struct {
	// Reason is the Reconciling condition's reason (a v1alpha1.Reason*).
	Reason string
	Err    error
}

// Retry says err may go away on its own: the object is Reconciling with
// reason until a retry succeeds. An error already classified (Stalled,
// Waiting, Retrying) or nil is returned as it is, so a reconciler can give
// every failure of a pass a default reason in one place.
func Retry(reason string, err error) error {
	var s *Stalled
	var w *Waiting
	var r *Retrying
	if err == nil || errors.As(err, &s) || errors.As(err, &w) || errors.As(err, &r) {
		return err
	}
	return &Retrying{Reason: reason, Err: err}
}

func (e *Retrying) Error() string { return e.Err.Error() }
func (e *Retrying) Unwrap() error { return e.Err }

// IsStalled reports whether err is (or wraps) a Stalled error.
func IsStalled(err error) bool {
	var s *Stalled
	return errors.As(err, &s)
}

// Record writes what err says into conds (see Stalled, Waiting, Retrying)
// and returns the result and error for controller-runtime. A nil err
// records nothing: the caller marks the object Ready.
func Record(conds *[]metav1.Condition, generation int64, err error) (reconcile.Result, error) {
	var s *Stalled
	var w *Waiting
	var r *Retrying
	switch {
	case err == nil:
		return reconcile.Result{}, nil
	case errors.As(err, &s):
		MarkStalled(conds, generation, s.Reason, s.Message)
		return reconcile.Result{}, nil
	case errors.As(err, &w):
		MarkReconciling(conds, generation, w.Reason, w.Message)
		return reconcile.Result{RequeueAfter: w.RequeueAfter}, nil
	case errors.As(err, &r):
		MarkReconciling(conds, generation, r.Reason, r.Err.Error())
		return reconcile.Result{}, err
	default:
		return reconcile.Result{}, err
	}
}
