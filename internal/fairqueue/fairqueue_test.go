package fairqueue

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func req(ns, name string) reconcile.Request {
	return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}
}

func TestRoundRobinTakesTurns(t *testing.T) {
	q := NewRoundRobin(func(r reconcile.Request) string { return r.Namespace })
	for i := range 3 {
		q.Push(req("noisy", fmt.Sprint(i)))
	}
	q.Push(req("quiet", "a"))
	q.Push(req("third", "x"))
	q.Push(req("quiet", "b"))
	var got []string
	for q.Len() > 0 {
		r := q.Pop()
		got = append(got, r.Namespace+"/"+r.Name)
	}
	want := []string{"noisy/0", "quiet/a", "third/x", "noisy/1", "quiet/b", "noisy/2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if len(q.fifos) != 0 || len(q.turns) != 0 {
		t.Fatalf("empty queue keeps state: %v %v", q.fifos, q.turns)
	}
}

// The client-go semantics the controllers rely on still hold: an item is
// queued once however often it is added, an item added while it is being
// processed comes back once after Done, and delays and rate limits work.
func TestQueueKeepsWorkqueueSemantics(t *testing.T) {
	q := New("", workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	a := req("ns", "a")
	q.Add(a)
	q.Add(a)
	if q.Len() != 1 {
		t.Fatalf("added twice, Len %d, want 1", q.Len())
	}
	got, _ := q.Get()
	q.Add(a) // while processing
	if q.Len() != 0 {
		t.Fatalf("an item being processed was handed out again (Len %d)", q.Len())
	}
	q.Done(got)
	if q.Len() != 1 {
		t.Fatalf("an item added during processing did not come back after Done (Len %d)", q.Len())
	}
	got, _ = q.Get()
	q.Done(got)

	q.AddAfter(req("ns", "later"), 20*time.Millisecond)
	q.AddRateLimited(req("other", "limited"))
	seen := map[string]bool{}
	for range 2 {
		r, shutdown := q.Get()
		if shutdown {
			t.Fatal("shut down early")
		}
		seen[r.Name] = true
		q.Done(r)
	}
	if !seen["later"] || !seen["limited"] {
		t.Fatalf("delayed items not delivered: %v", seen)
	}
	if q.NumRequeues(req("other", "limited")) != 1 {
		t.Fatalf("NumRequeues = %d, want 1", q.NumRequeues(req("other", "limited")))
	}
}

// One tenant queues 40 slow items; two workers are busy with them when
// another tenant's one item arrives. With this queue the quiet item starts
// as soon as a worker frees up: its wait is at most one slow item. With
// the arrival-order queue (controller-runtime's without priorities) it
// waits for the whole backlog, which the test also shows.
func TestOneTenantCannotStarveAnother(t *testing.T) {
	const slow = 30 * time.Millisecond
	fair := newBacklogRun(t, New("", workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]()), slow)
	if fair.position > 3 {
		t.Fatalf("fair queue: the quiet tenant's item started at position %d after %s, want within 3", fair.position, fair.wait)
	}
	fifo := newBacklogRun(t, workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]()), slow)
	if fifo.position < 30 {
		t.Fatalf("arrival-order queue: quiet item at position %d; the scenario no longer shows starvation", fifo.position)
	}
	t.Logf("quiet tenant behind 40 items of %s on 2 workers: fair queue position %d, waited %s; arrival order position %d, waited %s",
		slow, fair.position, fair.wait.Round(time.Millisecond), fifo.position, fifo.wait.Round(time.Millisecond))
}

type backlogRun struct {
	position int
	wait     time.Duration
}

func newBacklogRun(t *testing.T, q workqueue.TypedRateLimitingInterface[reconcile.Request], slow time.Duration) backlogRun {
	t.Helper()
	for i := range 40 {
		q.Add(req("noisy", fmt.Sprint(i)))
	}
	var (
		mu      sync.Mutex
		started []string
		quietAt time.Time
		wg      sync.WaitGroup
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r, shutdown := q.Get()
				if shutdown {
					return
				}
				mu.Lock()
				started = append(started, r.Namespace)
				if r.Namespace == "quiet" {
					quietAt = time.Now()
				}
				mu.Unlock()
				if r.Namespace == "noisy" {
					time.Sleep(slow)
				}
				q.Done(r)
			}
		}()
	}
	time.Sleep(slow / 3) // both workers are now busy with the backlog
	enqueued := time.Now()
	q.Add(req("quiet", "policy"))
	deadline := time.Now().Add(10 * time.Second)
	for q.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	q.ShutDownWithDrain()
	wg.Wait()
	for i, ns := range started {
		if ns == "quiet" {
			return backlogRun{position: i, wait: quietAt.Sub(enqueued)}
		}
	}
	t.Fatal("the quiet item never ran")
	return backlogRun{}
}
