// Package controllers holds one reconciler per fedcommons kind. Each is
// thin: read the object, build the desired children with the pure builders
// (internal/tenancy, internal/resources), apply them with server-side apply
// (internal/apply), and summarise what it observed in status. Software
// differences live in the profiles (internal/software), moderation logic in
// the engine (internal/moderation), delivery to servers in internal/delivery
// (whose Outcome the Instance reconciler records): nothing here knows a CSV
// column, an admin API path or an HTTP status.
package controllers
