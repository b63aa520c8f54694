// Package movecli is what `fedcommons community export|import` do against
// a cluster, with the user's own kubeconfig (a co-op sysadmin's: export
// reads the community's Secrets, import creates a Community).
//
// Export reads a Community, its Instances and FederationPolicies, the
// Secrets the operator generated for each Instance (asked for by name, as
// the operator itself does), the latest backup of each Instance, and the
// trust relations between the community's policies and other
// communities'. It builds an internal/bundle.Bundle; the file is written
// there, the Secrets encrypted.
//
// Import recreates a bundle on another cluster in the order that lets the
// operator adopt rather than invent: the Community (and its namespace),
// then the Secrets exactly as they were, then the Instances (each
// restoring from its latest backup), then the policies. It never
// overwrites: an object that exists already is left alone if it is
// identical to the bundle's and otherwise stops the import before
// anything is created, naming it.
//
// Flag parsing stays in cmd/fedcommons; everything here takes plain values
// and an io.Writer, so tests run it against a real API server.
package movecli
