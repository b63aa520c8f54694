package v1alpha1

// Domain is a fully qualified, lower-case DNS name with at least one dot,
// such as social.example.org (RFC 1123, at most 253 characters). Write it
// in its ASCII (punycode) form: xn--bcher-kva.example, not bücher.example.
// +kubebuilder:validation:MinLength=3
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:XValidation:rule="!self.matches('(^|\\\\.)([a-wyz0-9][a-z0-9]|x[a-mo-z0-9])--')",message="a label with '--' in its third and fourth characters is reserved for punycode: write internationalised names in their xn-- form, such as xn--bcher-kva.example"
// +kubebuilder:validation:XValidation:rule="self.matches('^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\\\.)+[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')",message="must be a lower-case DNS name with at least one dot, such as social.example.org (letters a-z, digits and '-', no trailing dot, no wildcard)"
type Domain string

// SecretKeyReference names one key of a Secret in the object's own namespace.
type SecretKeyReference struct {
	// name of the Secret, in the same namespace as the object that refers to it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key within the Secret's data.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// LocalSecretReference names a Secret in the object's own namespace, whose
// expected keys are documented by the field that uses it.
type LocalSecretReference struct {
	// name of the Secret, in the same namespace as the object that refers to it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}
