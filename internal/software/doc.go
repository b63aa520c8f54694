// Package software describes, as data, each fediverse server the operator
// can host: its images per known version, its components (processes, ports,
// probes, replicas), how its configuration is rendered into environment
// variables, the secrets it needs generated once, its database and cache
// needs, its migration steps, its maintenance tasks, how an admin account is
// bootstrapped and which moderation driver speaks to it.
//
// A Profile is looked up by Instance.spec.software with Lookup. Controllers
// and builders never branch on the software's name: every difference lives
// in a profile, so adding a software means adding a file here (and its enum
// value in the API), not touching the controllers.
//
// Facts carry the version they were checked against (see Series and the
// comments next to each fact), because fediverse servers change their
// requirements between minor releases: OTP_SECRET is needed by Mastodon
// before 4.4 only, the sidekiq fasp queue exists from 4.4 on, and so on.
package software
