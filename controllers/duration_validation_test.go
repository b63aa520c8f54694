package controllers_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// A duration a person mistypes is refused with a message they can act on
// (issue 15: it was CEL's "type conversion error from 'string' to
// 'google.protobuf.Duration'"). Typed clients cannot send such a string,
// so these go as unstructured objects, as kubectl sends them.
var _ = Describe("Durations", func() {
	DescribeTable("a malformed duration is refused in words",
		func(kind string, set func(obj map[string]any, bad string), bad string, want string) {
			ns := newNamespace()
			var obj map[string]any
			var err error
			if kind == "FederationPolicy" {
				obj, err = runtime.DefaultUnstructuredConverter.ToUnstructured(basePolicy(ns, uniqueName("pol")))
			} else {
				obj, err = runtime.DefaultUnstructuredConverter.ToUnstructured(externalInstance(ns, uniqueName("inst")))
			}
			Expect(err).NotTo(HaveOccurred())
			u := &unstructured.Unstructured{Object: obj}
			u.SetAPIVersion("fedcommons.io/v1alpha1")
			u.SetKind(kind)
			set(u.Object, bad)
			err = k8sClient.Create(ctx, u)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(want))
			Expect(err.Error()).NotTo(ContainSubstring("type conversion"))
			Expect(err.Error()).NotTo(ContainSubstring("google.protobuf"))
		},
		Entry("refreshInterval in words", "FederationPolicy", setRefresh, "6 hours", "must be a duration such as 30m, 6h or 1h30m"),
		Entry("refreshInterval without a unit", "FederationPolicy", setRefresh, "3600", "must be a duration such as 30m, 6h or 1h30m"),
		Entry("driftCheckInterval in days", "Instance", setDrift, "1d", "must be a duration such as 30m, 2h or 1h30m"),
	)
})

func setRefresh(obj map[string]any, bad string) {
	sources := obj["spec"].(map[string]any)["sources"].([]any)
	sources[0].(map[string]any)["refreshInterval"] = bad
}

func setDrift(obj map[string]any, bad string) {
	spec := obj["spec"].(map[string]any)
	spec["federation"] = map[string]any{"driftCheckInterval": bad}
}
