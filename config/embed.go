// Package config embeds the parts of the deployment manifests that the
// demo (`fedcommons-dev`) and the test suites install themselves, so they are read
// from the same files kustomize and the Helm chart are built from. The
// CRDs are embedded by the config/crd package.
package config

import _ "embed"

// CommunityRoles is rbac/community_roles.yaml: the ClusterRoles a
// Community's members are bound to in their namespace.
//
//go:embed rbac/community_roles.yaml
var CommunityRoles []byte

// AdmissionPolicy is admission/policyapprovals.yaml: the
// ValidatingAdmissionPolicy and its binding that make a PolicyApproval the
// decision of the user who created it.
//
//go:embed admission/policyapprovals.yaml
var AdmissionPolicy []byte
