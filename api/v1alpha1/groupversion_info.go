// Package v1alpha1 holds the fedcommons.io/v1alpha1 API: Community (a
// collective and its tenancy), Instance (one fediverse server, hosted or
// external) and FederationPolicy (shared moderation merged by trust).
//
// Validation lives in the schema (OpenAPI markers and CEL rules), so a
// sysadmin's invalid manifest is refused by the API server at admission,
// with a message that says what to fix; there is no validating webhook.
//
// +kubebuilder:object:generate=true
// +groupName=fedcommons.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "fedcommons.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
