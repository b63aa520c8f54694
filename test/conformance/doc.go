// Package conformance holds the tests that hold fedcommons' moderation
// drivers and their fakes to the real servers.
//
// One driver contract (contract_test.go: token check and capabilities,
// lists longer than a page, create/update/delete of blocks and allows,
// ownership markers, hand-made entries, idempotent re-sync, bulk import,
// busy domains and rate limiting) and one wire contract (wire_test.go: the
// exact answers the driver relies on) run against a real GoToSocial
// started on loopback and against the in-process fake configured as the
// same version, so a fake that disagrees with the real server fails a
// test. The hosted-profile check (hosted_test.go) runs the Deployment and
// admin Job the operator generates for a hosted GoToSocial as local
// processes of the real binary and lets the operator's delivery code sign
// in and push a policy. Mastodon cannot run here: its answers are recorded
// from its source and API documentation as fixtures (testdata/mastodon),
// which the Mastodon fake must replay exactly.
//
// The real server comes from GOTOSOCIAL_BIN (hack/gotosocial.sh: a
// release binary with its web/ templates, or a release .tgz); without it
// the real-server test skips with one line saying so. What the suite found
// is in FINDINGS.md.
package conformance
