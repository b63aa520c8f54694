//go:build scale

package scale

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/controllers"
	"github.com/fedcommons/fedcommons/internal/apply"
	"github.com/fedcommons/fedcommons/internal/manager"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
	"github.com/fedcommons/fedcommons/internal/tenancy"
	"github.com/fedcommons/fedcommons/internal/testenv"
)

// The physical limit: what the operator's rollout would cost if it had
// nothing to decide and nothing to wait for. A plain client builds the
// children of the same communities and Instances with the operator's own
// pure builders (tenancy, resources) and server-side-applies them at full
// speed, all at once, through the same Applier. Only the owner references
// are left out: they would name Communities and Instances that do not
// exist, and the garbage collector would delete the objects while they
// are being counted.

// baselineObjects builds every child object of the workload under prefix.
func baselineObjects(prefix string, communities, perCommunity int) (namespaces, rest []client.Object, err error) {
	opts := controllers.Options{OperatorNamespace: testenv.OperatorNamespace}.WithDefaults()
	for i := range communities {
		c := community(prefix, i)
		c.UID = types.UID(fmt.Sprintf("baseline-community-%d", i))
		namespaces = append(namespaces, tenancy.Namespace(c, true))
		rest = append(rest, tenancy.ResourceQuota(c))
		if lr := tenancy.LimitRange(c); lr != nil {
			rest = append(rest, lr)
		}
		if np := tenancy.IsolationPolicy(c, tenancy.IsolationOptions{OperatorNamespace: opts.OperatorNamespace, DefaultIngressSelector: opts.IngressNamespaceSelector}); np != nil {
			rest = append(rest, np)
		}
		params := resources.Params{Community: c.Name, OperatorNamespace: opts.OperatorNamespace, IngressNamespaceSelector: opts.IngressNamespaceSelector}
		for j := range perCommunity {
			inst := instance(prefix, i, j)
			inst.UID = types.UID(fmt.Sprintf("baseline-instance-%d-%d", i, j))
			inst.Status.Community = c.Name
			objs, err := instanceObjects(inst, params)
			if err != nil {
				return nil, nil, err
			}
			rest = append(rest, objs...)
		}
	}
	for _, o := range append(namespaces, rest...) {
		o.SetOwnerReferences(nil)
	}
	return namespaces, rest, nil
}

// instanceObjects are what the operator writes for a hosted Instance's
// first install: the generated Secrets, the long-lived objects, the
// install Jobs and the registrations Job.
func instanceObjects(inst *v1alpha1.Instance, params resources.Params) ([]client.Object, error) {
	p, err := software.Lookup(inst.Spec.Software)
	if err != nil {
		return nil, err
	}
	var out []client.Object
	secrets, err := resources.GeneratedSecrets(inst, p, inst.Spec.Version, params, rand.Reader)
	if err != nil {
		return nil, err
	}
	for _, s := range secrets {
		out = append(out, s)
	}
	desired, err := resources.Desired(inst, p, inst.Spec.Version, params)
	if err != nil {
		return nil, err
	}
	out = append(out, desired...)
	steps, err := p.UpgradePlan("", inst.Spec.Version)
	if err != nil {
		return nil, err
	}
	for _, step := range steps {
		if step.Kind != software.StepJob {
			continue
		}
		job, err := resources.StepJob(inst, p, step, inst.Spec.Version, params)
		if err != nil {
			return nil, err
		}
		out = append(out, job)
	}
	reg, err := resources.RegistrationsJob(inst, p, inst.Spec.Version, "", 1, params)
	if err != nil {
		return nil, err
	}
	if reg != nil {
		out = append(out, reg)
	}
	return out, nil
}

// baselineWorkers is how many requests the baseline keeps in flight.
const baselineWorkers = 32

// runBaseline applies the namespaces, then everything else, with
// baselineWorkers in parallel and no client-side rate limit, and returns
// how long it took and how many objects it applied.
func runBaseline(ctx context.Context, cfg *rest.Config, prefix string, communities, perCommunity int) (time.Duration, int, error) {
	namespaces, rest, err := baselineObjects(prefix, communities, perCommunity)
	if err != nil {
		return 0, 0, err
	}
	cfg.QPS, cfg.Burst = 1e6, 1e6
	c, err := client.New(cfg, client.Options{Scheme: manager.Scheme()})
	if err != nil {
		return 0, 0, err
	}
	applier := apply.New(c, manager.Scheme())
	began := time.Now()
	for _, batch := range [][]client.Object{namespaces, rest} {
		if err := applyAll(ctx, applier, batch); err != nil {
			return 0, 0, err
		}
	}
	return time.Since(began), len(namespaces) + len(rest), nil
}

func applyAll(ctx context.Context, a *apply.Applier, objs []client.Object) error {
	work := make(chan client.Object)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range baselineWorkers {
		wg.Go(func() {
			for o := range work {
				if _, err := a.Apply(ctx, o); err != nil {
					mu.Lock()
					first = firstErr(first, fmt.Errorf("apply %T %s/%s: %w", o, o.GetNamespace(), o.GetName(), err))
					mu.Unlock()
				}
			}
		})
	}
	for _, o := range objs {
		work <- o
	}
	close(work)
	wg.Wait()
	return first
}
