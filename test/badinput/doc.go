// Package badinput holds invalid manifests (issue 14, fault suite 5), one
// per file, each with a `# reason:` line (why it is wrong) and an
// `# expect:` line (a fragment of the message a sysadmin must read). A file
// with two documents holds an object and an update of it that must be
// refused. The test sends every file to a real API server (envtest, the
// CRDs with their OpenAPI and CEL rules; fedcommons has no webhook) and
// fails if one is admitted or its message lacks the fragment.
package badinput
