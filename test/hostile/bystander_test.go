package hostile

import (
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// bystander is a community with its own server and a local policy, which
// keeps changing while the victim's hostile feeds are processed: each
// change must reach its server as it would on a quiet operator.
type bystander struct {
	e   *env
	srv *fakeserver.Server

	mu        sync.Mutex
	latencies []time.Duration
	began     []time.Time // of each change
	err       error
	stop      chan struct{}
	done      sync.WaitGroup
}

const (
	bystanderNS     = "bystander"
	bystanderPolicy = "local"
	// convergeWithin bounds one change's way from the API to the server.
	convergeWithin = 2 * time.Minute
)

// newBystander sets the community's server and policy up and waits until
// the first entry is on the server.
func newBystander(e *env) *bystander {
	e.t.Helper()
	b := &bystander{e: e, stop: make(chan struct{})}
	b.srv = e.server(bystanderNS, "toot", "toot.bystander.example", nil)
	e.create(&v1alpha1.FederationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: bystanderNS, Name: bystanderPolicy},
		Spec: v1alpha1.FederationPolicySpec{Entries: []v1alpha1.PolicyEntry{
			{Domain: "spam.example", Action: v1alpha1.ActionSuspend, PublicComment: "our own decision"},
		}},
	})
	e.eventually(convergeWithin, "the bystander's first entry on its server", func() error {
		if _, ok := managed(b.srv)["spam.example"]; !ok {
			return fmt.Errorf("server holds %v", managed(b.srv))
		}
		return nil
	})
	return b
}

// change adds one entry to the policy and returns how long it took to
// reach the server.
func (b *bystander) change(n int) (time.Time, time.Duration, error) {
	domain := fmt.Sprintf("change-%03d.example", n)
	p, err := b.e.policy(bystanderNS, bystanderPolicy)
	if err != nil {
		return time.Time{}, 0, err
	}
	base := p.DeepCopy()
	p.Spec.Entries = append(p.Spec.Entries, v1alpha1.PolicyEntry{Domain: v1alpha1.Domain(domain), Action: v1alpha1.ActionSilence})
	began := time.Now()
	if err := b.e.c.Patch(b.e.ctx, p, client.MergeFrom(base)); err != nil {
		return began, 0, err
	}
	for time.Since(began) < convergeWithin {
		if _, ok := managed(b.srv)[domain]; ok {
			return began, time.Since(began), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return began, 0, fmt.Errorf("%s did not reach the bystander's server within %s", domain, convergeWithin)
}

// run makes a change 250 ms after the previous one reached the server,
// until Stop, and at least rounds changes.
func (b *bystander) run(rounds int) {
	b.done.Add(1)
	go func() {
		defer b.done.Done()
		for n := 1; ; n++ {
			if n > rounds {
				select {
				case <-b.stop:
					return
				default:
				}
			}
			at, d, err := b.change(n)
			b.mu.Lock()
			if err != nil {
				b.err = err
				b.mu.Unlock()
				return
			}
			b.latencies, b.began = append(b.latencies, d), append(b.began, at)
			b.mu.Unlock()
			time.Sleep(250 * time.Millisecond)
		}
	}()
}

// between returns the delays of the changes made from one time to another.
func (b *bystander) between(from, to time.Time) []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []time.Duration
	for i, at := range b.began {
		if !at.Before(from) && at.Before(to) {
			out = append(out, b.latencies[i])
		}
	}
	return out
}

// Stop waits for the round in progress and returns every change's delay.
func (b *bystander) Stop() ([]time.Duration, error) {
	close(b.stop)
	b.done.Wait()
	return b.latencies, b.err
}
