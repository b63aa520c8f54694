// Package reviewcli is what `fedcommons policy review|approve|reject` do
// against a cluster, with the user's own kubeconfig: list the proposals
// waiting for a community's approval (PolicyProposal) with their change
// sets, and record one person's decision on one (PolicyApproval).
//
// The CLI never says who the user is: it asks the API server
// (SelfSubjectReview) and writes exactly that name as the approver, the
// name the admission policy checks against the request's authenticated
// user. Whatever the API server refuses is said in a plain sentence, with
// who the user was authenticated as.
//
// Flag parsing stays in cmd/fedcommons; everything here takes plain
// values and an io.Writer, so tests run it against a real API server.
package reviewcli
