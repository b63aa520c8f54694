package testenv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// The secrets-hygiene check of issue 14: no generated password, key or
// token may appear in what people and log pipelines see of the operator.
// The controllers suite and test/crash both run it.

// notSecret are Secret keys whose values are public by nature.
var notSecret = regexp.MustCompile(`(?i)public|user|email|host|^tls\.|^ca\.crt$`)

// minSecretLen: shorter values ("u", "p") match text by chance.
const minSecretLen = 8

// SecretValues returns every value worth protecting, by "ns/name/key", of
// the Secrets keep selects (nil: all).
func SecretValues(secrets []corev1.Secret, keep func(*corev1.Secret) bool) map[string]string {
	out := map[string]string{}
	for i := range secrets {
		s := &secrets[i]
		if keep != nil && !keep(s) {
			continue
		}
		for k, v := range s.Data {
			if len(v) < minSecretLen || notSecret.MatchString(k) {
				continue
			}
			out[s.Namespace+"/"+s.Name+"/"+k] = string(v)
		}
	}
	return out
}

// Observable is what the API server shows of the operator: every Event
// (both APIs) and the status of every fedcommons object, as text, with
// counts for the report.
func Observable(ctx context.Context, c client.Reader) (text string, events, statuses int, err error) {
	var b strings.Builder
	evs := &eventsv1.EventList{}
	if err := c.List(ctx, evs); err != nil {
		return "", 0, 0, err
	}
	for _, e := range evs.Items {
		fmt.Fprintf(&b, "\n%s %s %s", e.Reason, e.Note, e.Action)
	}
	core := &corev1.EventList{}
	if err := c.List(ctx, core); err != nil {
		return "", 0, 0, err
	}
	for _, e := range core.Items {
		fmt.Fprintf(&b, "\n%s %s", e.Reason, e.Message)
	}
	events = len(evs.Items) + len(core.Items)
	var all []any
	instances, communities, policies := &v1alpha1.InstanceList{}, &v1alpha1.CommunityList{}, &v1alpha1.FederationPolicyList{}
	for _, l := range []client.ObjectList{instances, communities, policies} {
		if err := c.List(ctx, l); err != nil {
			return "", 0, 0, err
		}
	}
	for i := range instances.Items {
		all = append(all, instances.Items[i].Status)
	}
	for i := range communities.Items {
		all = append(all, communities.Items[i].Status)
	}
	for i := range policies.Items {
		all = append(all, policies.Items[i].Status)
	}
	for _, s := range all {
		raw, err := json.Marshal(s)
		if err != nil {
			return "", 0, 0, err
		}
		b.WriteString("\n")
		b.Write(raw)
	}
	return b.String(), events, len(all), nil
}

// SecretLeaks names (never shows) each secret found in text, as it is or
// base64-encoded (a Secret's data printed as JSON).
func SecretLeaks(text string, values map[string]string) []string {
	var hits []string
	for where, v := range values {
		if strings.Contains(text, v) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(v))) {
			hits = append(hits, where)
		}
	}
	sort.Strings(hits)
	return hits
}
