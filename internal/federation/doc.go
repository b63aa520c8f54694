// Package federation turns FederationPolicy objects into what the engine
// merges and what each Instance must hold, without any Kubernetes client:
//
//   - ResolveSources reads a policy's sources through a SourceResolver
//     (the operator's reads its Subscriptions and the Registry, the CLI's
//     fetches once and reads files), translating the spec the same way for
//     both; Input converts the policy and its resolved sources into a
//     moderation.MergeInput;
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
