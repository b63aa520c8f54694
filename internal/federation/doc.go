// Package federation turns FederationPolicy objects into what the engine
// merges and what each Instance must hold, without any Kubernetes client:
//
//   - Input converts a policy's spec and its resolved sources into a
//     moderation.MergeInput, and Status numbers back out of the result;
//   - Registry keeps every policy's latest effective result (for the
//     Instance syncer, for policyRef subscribers and for the feed servers),
//     tagged with the generation it was computed for, so that nothing acts
//     on a policy that has not been computed since the operator started;
//   - Combine merges the policies that select one Instance: the strictest
//     decision wins across policies and each entry remembers which policy
//     asked for it.
//   - ClaimHolder says which Instance keeps a domain several claim, and
//     ProtectedDomains which domains the claim holders protect in every
//     policy's merge, and for which community.
//
// The controllers read and write the API; this package only decides.
package federation
