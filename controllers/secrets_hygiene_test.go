package controllers_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// Issue 14 fault suite 4, secrets hygiene. Every line the operator logs
// while the suite runs is captured (the manager's logger writes here too),
// and after the last spec every Event and the status of every fedcommons
// object is read back. None of it may hold a secret value: a generated
// key or password, an admin token, or any value of a Secret a test made.

// lockedBuffer is the suite's log capture, written by many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var logCapture lockedBuffer

// notSecret are Secret keys whose values are not secret: published keys,
// names and addresses, and the tests' stand-in TLS material.
var notSecret = regexp.MustCompile(`(?i)public|user|email|host|^tls\.|^ca\.crt$`)

// minSecretLen: shorter values ("u", "p") match text by chance.
const minSecretLen = 8

// secretValues reads every value worth protecting, by "ns/name/key".
func secretValues() map[string]string {
	GinkgoHelper()
	list := &corev1.SecretList{}
	Expect(k8sClient.List(ctx, list)).To(Succeed())
	out := map[string]string{}
	for _, s := range list.Items {
		for k, v := range s.Data {
			if len(v) < minSecretLen || notSecret.MatchString(k) {
				continue
			}
			out[s.Namespace+"/"+s.Name+"/"+k] = string(v)
		}
	}
	return out
}

// observable is everything a person or a log pipeline sees of the
// operator: its logs, every Event, the status of every fedcommons object.
func observable() (string, map[string]int) {
	GinkgoHelper()
	var b strings.Builder
	sizes := map[string]int{}
	logs := logCapture.String()
	b.WriteString(logs)
	sizes["log bytes"] = len(logs)

	events := &eventsv1.EventList{}
	Expect(k8sClient.List(ctx, events)).To(Succeed())
	for _, e := range events.Items {
		fmt.Fprintf(&b, "\n%s %s %s", e.Reason, e.Note, e.Action)
	}
	core := &corev1.EventList{}
	Expect(k8sClient.List(ctx, core)).To(Succeed())
	for _, e := range core.Items {
		fmt.Fprintf(&b, "\n%s %s", e.Reason, e.Message)
	}
	sizes["events"] = len(events.Items) + len(core.Items)

	statuses := 0
	add := func(status any) {
		raw, err := json.Marshal(status)
		Expect(err).NotTo(HaveOccurred())
		b.WriteString("\n")
		b.Write(raw)
		statuses++
	}
	instances := &v1alpha1.InstanceList{}
	Expect(k8sClient.List(ctx, instances)).To(Succeed())
	for i := range instances.Items {
		add(instances.Items[i].Status)
	}
	communities := &v1alpha1.CommunityList{}
	Expect(k8sClient.List(ctx, communities)).To(Succeed())
	for i := range communities.Items {
		add(communities.Items[i].Status)
	}
	policies := &v1alpha1.FederationPolicyList{}
	Expect(k8sClient.List(ctx, policies)).To(Succeed())
	for i := range policies.Items {
		add(policies.Items[i].Status)
	}
	sizes["statuses"] = statuses
	return b.String(), sizes
}

// secretLeaks names (never shows) each secret found in text, as it is or
// base64-encoded (a Secret's data printed as JSON).
func secretLeaks(text string, values map[string]string) []string {
	var hits []string
	for where, v := range values {
		if strings.Contains(text, v) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(v))) {
			hits = append(hits, where)
		}
	}
	sort.Strings(hits)
	return hits
}

// checkSecretsHygiene runs in AfterSuite, while the API server still runs.
func checkSecretsHygiene() {
	GinkgoHelper()
	values := secretValues()
	text, sizes := observable()
	hits := secretLeaks(text, values)
	// On stdout, not GinkgoWriter: the figure is wanted when all passes.
	fmt.Fprintf(os.Stdout, "secrets hygiene: %d secret values scanned in %d log bytes, %d Events, %d statuses: %d hits\n",
		len(values), sizes["log bytes"], sizes["events"], sizes["statuses"], len(hits))
	// The whole suite always makes secrets; a focused run of specs that
	// make none has nothing to look for, and is not a failure.
	if suite, _ := GinkgoConfiguration(); len(suite.FocusStrings) == 0 && len(suite.FocusFiles) == 0 {
		Expect(values).NotTo(BeEmpty(), "no secrets to look for: the check would prove nothing")
	}
	Expect(hits).To(BeEmpty(), "secret values seen in logs, Events or status (by Secret/key)")
}
