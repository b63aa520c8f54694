// Package fairqueue is a controller work queue that takes turns between
// namespaces.
//
// The operator serves many communities, each in its own namespace, from
// one process. controller-runtime's queues hand out work in arrival order
// (or by priority), so a community that queues a hundred slow
// FederationPolicies, or external Instances pointing at a black hole, has
// every worker busy with its own items while another community's single
// change waits behind all of them. Here every namespace with pending work
// gets its turn in rotation: a newcomer waits at most for one item per
// other waiting namespace, and, once its turn comes, only for the first
// worker to free up — not for another tenant's whole backlog.
//
// Only the order changes: the queue is client-go's own (the same
// de-duplication, processing set, rate limiting, delays and metrics as
// controller-runtime's default), with a round-robin storage plugged into
// its Queue hook.
package fairqueue

import (
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// New returns a rate-limiting queue for reconcile requests that takes turns
// between namespaces. It has the signature of controller.Options.NewQueue.
func New(name string, rateLimiter workqueue.TypedRateLimiter[reconcile.Request]) workqueue.TypedRateLimitingInterface[reconcile.Request] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(rateLimiter, workqueue.TypedRateLimitingQueueConfig[reconcile.Request]{
		Name: name,
		DelayingQueue: workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[reconcile.Request]{
			Name: name,
			Queue: workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[reconcile.Request]{
				Name:  name,
				Queue: NewRoundRobin(func(r reconcile.Request) string { return r.Namespace }),
			}),
		}),
	})
}

// RoundRobin is a workqueue.Queue that keeps one FIFO per key (the
// namespace) and pops from each key in turn. client-go calls it under the
// queue's own lock, so it needs none.
type RoundRobin[T comparable] struct {
	keyOf func(T) string
	// fifos holds the pending items of each key with any.
	fifos map[string][]T
	// turns is the rotation: every key with pending items, once, in the
	// order their turns come.
	turns []string
	n     int
}

// NewRoundRobin returns an empty RoundRobin that groups items by keyOf.
func NewRoundRobin[T comparable](keyOf func(T) string) *RoundRobin[T] {
	return &RoundRobin[T]{keyOf: keyOf, fifos: map[string][]T{}}
}

// Touch is called when an item already pending is added again. Its place
// in its key's line stays: being added twice earns no earlier turn.
func (q *RoundRobin[T]) Touch(T) {}

// Push adds an item at the end of its key's line. A key that had nothing
// pending joins the rotation at the end, behind every key already waiting.
func (q *RoundRobin[T]) Push(item T) {
	k := q.keyOf(item)
	if len(q.fifos[k]) == 0 {
		q.turns = append(q.turns, k)
	}
	q.fifos[k] = append(q.fifos[k], item)
	q.n++
}

// Len is the number of pending items.
func (q *RoundRobin[T]) Len() int { return q.n }

// Pop takes the first item of the key whose turn it is; that key goes to
// the end of the rotation if it has more. client-go only calls Pop when
// Len is not zero.
func (q *RoundRobin[T]) Pop() T {
	k := q.turns[0]
	q.turns = q.turns[1:]
	fifo := q.fifos[k]
	item := fifo[0]
	var zero T
	fifo[0] = zero // let the item go
	if fifo = fifo[1:]; len(fifo) == 0 {
		delete(q.fifos, k)
	} else {
		q.fifos[k] = fifo
		q.turns = append(q.turns, k)
	}
	q.n--
	return item
}
