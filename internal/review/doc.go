// Package review decides what of a newly computed effective policy may
// reach the servers at once and what must wait for the community's
// approval (FederationPolicy spec.review, issue 17).
//
// It holds no Kubernetes client: the controller loads the applied state
// (State, saved in ConfigMaps), asks Decide to split the difference between
// what the servers have and the new computation, records the change set
// that needs review as a PolicyProposal, and, once approved, applies
// exactly that change set with Apply. Compose turns the applied entries
// back into the effective policy the Registry hands to the servers.
//
// Why a separate applied state at all: without review the servers always
// get the latest computation, which is recomputed after a restart. With
// review the servers hold something older than the computation, and that
// must survive a restart, or a restart would silently apply (or retract)
// everything that waits for approval.
package review
