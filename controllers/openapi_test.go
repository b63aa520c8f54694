package controllers_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/discovery"
)

// `kubectl explain` reads the OpenAPI the API server publishes from our
// CRDs: every field's Go doc comment must arrive there as its description.
var _ = Describe("kubectl explain", func() {
	It("finds real descriptions for instances.spec.federation", func() {
		dc, err := discovery.NewDiscoveryClientForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		paths, err := dc.OpenAPIV3().Paths()
		Expect(err).NotTo(HaveOccurred())
		gv, ok := paths["apis/fedcommons.io/v1alpha1"]
		Expect(ok).To(BeTrue(), "the API server publishes OpenAPI v3 for fedcommons.io/v1alpha1")
		raw, err := gv.Schema("application/json")
		Expect(err).NotTo(HaveOccurred())

		var doc struct {
			Components struct {
				Schemas map[string]schema `json:"schemas"`
			} `json:"components"`
		}
		Expect(json.Unmarshal(raw, &doc)).To(Succeed())
		instance, ok := doc.Components.Schemas["io.fedcommons.v1alpha1.Instance"]
		Expect(ok).To(BeTrue())
		federation := instance.Properties["spec"].Properties["federation"]
		Expect(federation.Description).To(ContainSubstring("how the community's FederationPolicy reaches the server"))
		Expect(federation.Properties["mode"].Description).To(ContainSubstring("allowlist (federate only with allowed domains"))
		Expect(federation.Properties["sync"].Description).To(ContainSubstring("pushes the effective FederationPolicy"))
		Expect(federation.Properties["apiURL"].Description).To(ContainSubstring("admin API"))
		Expect(federation.Properties["driftCheckInterval"].Description).To(ContainSubstring("drift on our entries is corrected"))
		for name, p := range federation.Properties {
			Expect(p.Description).NotTo(BeEmpty(), "spec.federation.%s has no description", name)
		}
	})
})

type schema struct {
	Description string            `json:"description"`
	Properties  map[string]schema `json:"properties"`
}
