//go:build scale

package scale

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// The workload: communities of Instances, Mastodon and GoToSocial in
// turn, each community with one FederationPolicy selecting all its
// Instances. Federation sync is off: there is no server behind a kwok Pod
// to push to (policy propagation is measured apart).

func communityName(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }

func community(prefix string, i int) *v1alpha1.Community {
	return &v1alpha1.Community{
		ObjectMeta: metav1.ObjectMeta{Name: communityName(prefix, i)},
		Spec:       v1alpha1.CommunitySpec{Domains: []v1alpha1.Domain{v1alpha1.Domain(fmt.Sprintf("c%d-%s.example", i, prefix))}},
	}
}

func instance(prefix string, i, j int) *v1alpha1.Instance {
	sw, version := v1alpha1.SoftwareMastodon, "4.5.2"
	if j%2 == 1 {
		sw, version = v1alpha1.SoftwareGoToSocial, "0.20.1"
	}
	return &v1alpha1.Instance{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Instance"},
		ObjectMeta: metav1.ObjectMeta{Namespace: communityName(prefix, i), Name: fmt.Sprintf("srv%d", j)},
		Spec: v1alpha1.InstanceSpec{Software: sw, Version: version,
			Domain:     v1alpha1.Domain(fmt.Sprintf("srv%d.c%d-%s.example", j, i, prefix)),
			Federation: &v1alpha1.InstanceFederation{Sync: ptr.To(false)}},
	}
}

func policy(prefix string, i int) *v1alpha1.FederationPolicy {
	return &v1alpha1.FederationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: communityName(prefix, i), Name: "shared-moderation"},
		Spec: v1alpha1.FederationPolicySpec{
			InstanceSelector: &metav1.LabelSelector{},
			Entries: []v1alpha1.PolicyEntry{
				{Domain: "spam.example", Action: v1alpha1.ActionSuspend, PublicComment: "spam"},
				{Domain: "noisy.example", Action: v1alpha1.ActionSilence, PublicComment: "floods public timelines"},
			},
		},
	}
}

// rollout creates the communities, then (once each namespace admits them)
// their FederationPolicy and Instances, sixteen communities at a time.
func rollout(ctx context.Context, c client.Client, prefix string, communities, perCommunity int) error {
	for i := range communities {
		if err := c.Create(ctx, community(prefix, i)); err != nil {
			return err
		}
	}
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := range communities {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			objs := []client.Object{policy(prefix, i)}
			for j := range perCommunity {
				objs = append(objs, instance(prefix, i, j))
			}
			for _, o := range objs {
				if err := createWhenAdmitted(ctx, c, o); err != nil {
					mu.Lock()
					first = firstErr(first, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// createWhenAdmitted creates o, waiting out what a new community's
// namespace refuses for a moment: the namespace not made yet, and its
// ResourceQuota before kube-controller-manager has filled its status.
func createWhenAdmitted(ctx context.Context, c client.Client, o client.Object) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		err := c.Create(ctx, o.DeepCopyObject().(client.Object))
		switch {
		case err == nil, apierrors.IsAlreadyExists(err):
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("create %s/%s: %w", o.GetNamespace(), o.GetName(), err)
		case apierrors.IsNotFound(err), apierrors.IsForbidden(err) && strings.Contains(err.Error(), "quota"):
		default:
			return fmt.Errorf("create %s/%s: %w", o.GetNamespace(), o.GetName(), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// notReady counts the Instances of prefix not Ready at their generation,
// and names one.
func notReady(ctx context.Context, c client.Client, prefix string, want int) (int, string, error) {
	list := &v1alpha1.InstanceList{}
	if err := c.List(ctx, list); err != nil {
		return 0, "", err
	}
	seen, pending, example := 0, 0, ""
	for _, in := range list.Items {
		if !strings.HasPrefix(in.Namespace, prefix+"-") {
			continue
		}
		seen++
		r := meta.FindStatusCondition(in.Status.Conditions, v1alpha1.ConditionReady)
		if in.Status.ObservedGeneration != in.Generation || r == nil || r.Status != metav1.ConditionTrue || r.ObservedGeneration != in.Generation {
			if pending == 0 {
				example = in.Namespace + "/" + in.Name
				if r != nil {
					example += ": " + r.Reason + ": " + r.Message
				}
			}
			pending++
		}
	}
	return pending + want - seen, example, nil
}

// waitReady polls until every Instance of prefix is Ready and returns when
// it saw them so (polling every second: the figure is to the second).
func waitReady(ctx context.Context, c client.Client, prefix string, want int, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		n, example, err := notReady(ctx, c, prefix, want)
		if err == nil && n == 0 {
			return time.Now(), nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d of %d not Ready, e.g. %s", n, want, example)
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("not every Instance Ready after %s: %s", timeout, last)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
