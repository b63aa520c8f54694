package controllers_test

import (
	"fmt"
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/fedcommons/fedcommons/internal/testenv"
)

// Issue 14 fault suite 4, secrets hygiene. Every line the operator logs
// while the suite runs is captured (the manager's logger writes here too),
// and after the last spec every Event and the status of every fedcommons
// object is read back. None of it may hold a secret value: a generated
// key or password, an admin token, or any value of a Secret a test made.

// logCapture is the suite's log capture, written by many goroutines.
var logCapture testenv.SyncBuffer

// secretValues reads every value worth protecting, by "ns/name/key".
func secretValues() map[string]string {
	GinkgoHelper()
	list := &corev1.SecretList{}
	Expect(k8sClient.List(ctx, list)).To(Succeed())
	return testenv.SecretValues(list.Items, nil)
}

// observable is everything a person or a log pipeline sees of the
// operator: its logs, every Event, the status of every fedcommons object.
func observable() (string, map[string]int) {
	GinkgoHelper()
	logs := logCapture.String()
	text, events, statuses, err := testenv.Observable(ctx, k8sClient)
	Expect(err).NotTo(HaveOccurred())
	return logs + text, map[string]int{"log bytes": len(logs), "events": events, "statuses": statuses}
}

// checkSecretsHygiene runs in AfterSuite, while the API server still runs.
func checkSecretsHygiene() {
	GinkgoHelper()
	values := secretValues()
	text, sizes := observable()
	hits := testenv.SecretLeaks(text, values)
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
