package drivers

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// family is what a driver describes; execute does the rest of Apply the
// same way for every family.
type family interface {
	client() *client
	list(ctx context.Context) ([]moderation.ServerEntry, error)
	// kind names the server collection an action lives in ("block",
	// "allow", "limit"): ids are only unique within one, and an update that
	// changes collection is a delete plus a create.
	kind(a moderation.Action) string
	// expressible says why an entry cannot be written, or "".
	expressible(e moderation.Entry) string
	createOne(ctx context.Context, e moderation.Entry) (createOutcome, error)
	// bulkKinds are the kinds createMany supports.
	bulkKinds() map[string]bool
	// createMany imports es (all of one kind), answering one outcome per
	// entry, in order; an outcome with single set was not settled by the
	// import and is created on its own.
	createMany(ctx context.Context, kind string, es []moderation.Entry) ([]createOutcome, error)
	update(ctx context.Context, id string, from, to moderation.Entry) error
	remove(ctx context.Context, kind, id string) error
}

// createOutcome is what happened to one create.
type createOutcome struct {
	created  bool
	covered  bool
	conflict *Conflict
	// single: not settled by a bulk import; create it on its own.
	single bool
}

// stopError wraps the cause of an Apply that stopped for a reason time fixes.
type stopError struct{ cause error }

func (e *stopError) Error() string   { return ErrStopped.Error() + ": " + e.cause.Error() }
func (e *stopError) Unwrap() []error { return []error{ErrStopped, e.cause} }

// maxConsecutiveFailures stops an Apply against a server that fails every
// call (down, misconfigured) instead of sending it thousands of requests.
const maxConsecutiveFailures = 5

type run struct {
	f        family
	res      ApplyResult
	progress func(done, total int)
	streak   int
	writes0  int64
}

// settle counts n changes as done and reports progress.
func (r *run) settle(n int) {
	r.res.Done += n
	r.res.WriteCalls = int(r.f.client().writes.Load() - r.writes0)
	if r.progress != nil {
		r.progress(r.res.Done, r.res.Total)
	}
}

// check classifies a change's error: nil means carry on (the failure, if
// any, is recorded); non-nil means Apply must return it now.
func (r *run) check(domain, op string, err error) error {
	if err == nil {
		r.streak = 0
		return nil
	}
	if stop := r.stop(err); stop != nil {
		return stop
	}
	switch st := statusOf(err); {
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		// The token is wrong or lacks a scope: every further call would fail too.
		return err
	case st == 0 || st >= 500:
		r.streak++
	default:
		r.streak = 0
	}
	r.res.Failed = append(r.res.Failed, Failure{Domain: domain, Op: op, Err: err})
	if r.streak >= maxConsecutiveFailures {
		return fmt.Errorf("giving up after %d failures in a row: %w", r.streak, err)
	}
	return nil
}

// isStop tells the errors time fixes (deadline, cancellation, rate
// limiting), which end an Apply rather than fail one change.
func isStop(err error) bool {
	var rl *RateLimitedError
	return errors.As(err, &rl) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// stop wraps err in a stopError if it is one time fixes (deadline,
// cancellation, rate limiting), noting how long to wait; else nil.
func (r *run) stop(err error) error {
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		r.res.RetryAfter = rl.RetryAfter
		return &stopError{err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &stopError{err}
	}
	return nil
}

func (r *run) outcome(e moderation.Entry, o createOutcome) {
	switch {
	case o.conflict != nil:
		r.res.Conflicts = append(r.res.Conflicts, *o.conflict)
	case o.covered:
		r.res.Covered = append(r.res.Covered, e)
	case o.created:
		r.res.Created++
	}
}

// execute carries out plan: deletes first (so a removed parent block does
// not make the server refuse a new, narrower one), then updates, then
// creates, in bulk where the family can and it saves calls.
func execute(ctx context.Context, f family, cfg Config, plan moderation.Plan, progress func(done, total int)) (ApplyResult, error) {
	r := &run{f: f, progress: progress, writes0: f.client().writes.Load()}
	r.res.Total = plan.Writes()
	if len(plan.Update)+len(plan.Delete) > 0 {
		// Re-read the server rather than trust the plan's view of it.
		current, err := f.list(ctx)
		if err != nil {
			if stop := r.stop(err); stop != nil {
				return r.res, stop
			}
			return r.res, err
		}
		if err := checkOwnership(f, plan, current); err != nil {
			return r.res, err
		}
	}
	for _, d := range plan.Delete {
		err := f.remove(ctx, f.kind(d.Action), d.ID)
		if err == nil {
			r.res.Deleted++
		}
		if stop := r.check(d.Domain, "delete", err); stop != nil {
			return r.res, stop
		}
		r.settle(1)
	}
	for _, u := range plan.Update {
		var err error
		switch {
		case u.From.Domain != u.To.Domain:
			err = fmt.Errorf("%s: update of %s would change its domain to %s", f.client().server, u.From.Domain, u.To.Domain)
		case f.expressible(u.To) != "":
			err = fmt.Errorf("%s: %s", f.client().server, f.expressible(u.To))
		case f.kind(u.From.Action) == f.kind(u.To.Action):
			if err = f.update(ctx, u.ID, u.From, u.To); err == nil {
				r.res.Updated++
			}
		default:
			// Another collection on the server: replace the entry.
			if err = f.remove(ctx, f.kind(u.From.Action), u.ID); err == nil {
				var o createOutcome
				if o, err = f.createOne(ctx, u.To); err == nil {
					if o.created {
						r.res.Updated++
					} else {
						r.outcome(u.To, o)
					}
				}
			}
		}
		if stop := r.check(u.To.Domain, "update", err); stop != nil {
			return r.res, stop
		}
		r.settle(1)
	}

	threshold, batch := cfg.BulkThreshold, cfg.BulkBatchSize
	if threshold <= 0 {
		threshold = 10
	}
	if batch <= 0 {
		batch = 500
	}
	byKind := map[string][]moderation.Entry{}
	var kinds []string
	for _, e := range plan.Create {
		k := f.kind(e.Action)
		if _, seen := byKind[k]; !seen {
			kinds = append(kinds, k)
		}
		byKind[k] = append(byKind[k], e)
	}
	bulk := f.bulkKinds()
	for _, k := range kinds {
		es := byKind[k]
		if bulk[k] && len(es) >= threshold {
			for start := 0; start < len(es); start += batch {
				chunk := es[start:min(start+batch, len(es))]
				if stop := r.createChunk(ctx, k, chunk); stop != nil {
					return r.res, stop
				}
			}
			continue
		}
		for _, e := range es {
			if stop := r.createSingle(ctx, e); stop != nil {
				return r.res, stop
			}
		}
	}
	r.settle(0)
	if n := len(r.res.Failed); n > 0 {
		first := r.res.Failed[0]
		return r.res, fmt.Errorf("%d of %d changes failed; first: %s %s: %w", n, r.res.Total, first.Op, first.Domain, first.Err)
	}
	return r.res, nil
}

func (r *run) createSingle(ctx context.Context, e moderation.Entry) error {
	var o createOutcome
	var err error
	if why := r.f.expressible(e); why != "" {
		err = fmt.Errorf("%s: %s", r.f.client().server, why)
	} else {
		o, err = r.f.createOne(ctx, e)
	}
	if err == nil {
		r.outcome(e, o)
	}
	if stop := r.check(e.Domain, "create", err); stop != nil {
		return stop
	}
	r.settle(1)
	return nil
}

// createChunk imports a chunk; if the server rejects the import as a whole
// it falls back to one create per entry, which pins any failure on the
// entry that caused it (creates are idempotent on the servers with import).
func (r *run) createChunk(ctx context.Context, kind string, chunk []moderation.Entry) error {
	var ok []moderation.Entry
	for _, e := range chunk {
		if why := r.f.expressible(e); why != "" {
			r.res.Failed = append(r.res.Failed, Failure{Domain: e.Domain, Op: "create", Err: fmt.Errorf("%s: %s", r.f.client().server, why)})
			r.settle(1)
			continue
		}
		ok = append(ok, e)
	}
	if len(ok) == 0 {
		return nil
	}
	outs, err := r.f.createMany(ctx, kind, ok)
	if err == nil {
		var single []moderation.Entry
		settled := 0
		for i, e := range ok {
			if outs[i].single {
				single = append(single, e)
				continue
			}
			r.outcome(e, outs[i])
			settled++
		}
		r.streak = 0
		r.settle(settled)
		for _, e := range single {
			if stop := r.createSingle(ctx, e); stop != nil {
				return stop
			}
		}
		return nil
	}
	if stop := r.check("", "import", err); stop != nil {
		return stop
	}
	// check recorded the import failure; the per-entry creates below say
	// which entries it was about, so drop the summary line.
	r.res.Failed = r.res.Failed[:len(r.res.Failed)-1]
	for _, e := range ok {
		if stop := r.createSingle(ctx, e); stop != nil {
			return stop
		}
	}
	return nil
}

// checkOwnership refuses a plan that would update or delete anything the
// server does not show as ours right now, whatever the plan claims: the
// last line of defence for entries humans made.
func checkOwnership(f family, plan moderation.Plan, current []moderation.ServerEntry) error {
	byKey := make(map[string]moderation.ServerEntry, len(current))
	for _, se := range current {
		byKey[f.kind(se.Action)+"/"+se.ID] = se
	}
	verify := func(op, id string, e moderation.Entry) error {
		se, ok := byKey[f.kind(e.Action)+"/"+id]
		switch {
		case !ok:
			return fmt.Errorf("%w: %s: %s %s of %s: no %s with id %s on the server (stale plan)", ErrUnmanaged, f.client().server, op, f.kind(e.Action), e.Domain, f.kind(e.Action), id)
		case se.Domain != e.Domain:
			return fmt.Errorf("%w: %s: %s of %s: id %s is %s on the server (stale plan)", ErrUnmanaged, f.client().server, op, e.Domain, id, se.Domain)
		case !se.Managed:
			return fmt.Errorf("%w: %s: %s of %s (id %s): the entry has no %q marker", ErrUnmanaged, f.client().server, op, e.Domain, id, Marker)
		}
		return nil
	}
	for _, d := range plan.Delete {
		if !d.Managed {
			return fmt.Errorf("%w: %s: delete of %s (id %s): the plan itself says it is unmanaged", ErrUnmanaged, f.client().server, d.Domain, d.ID)
		}
		if err := verify("delete", d.ID, d.Entry); err != nil {
			return err
		}
	}
	for _, u := range plan.Update {
		if err := verify("update", u.ID, u.From); err != nil {
			return err
		}
	}
	return nil
}
