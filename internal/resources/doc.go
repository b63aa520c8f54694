// Package resources builds the Kubernetes objects of a hosted Instance from
// the Instance, its software profile and a few explicit inputs. Builders are
// pure functions: no client, no context, no clock; given the same inputs
// they return the same objects, which is what makes server-side apply
// converge to zero writes in steady state.
//
// Every object carries TypeMeta (the reconciler applies them with
// server-side apply), the Instance's labels, and an owner reference to the
// Instance, except data kept by deletionPolicy Retain (the data volume and
// the generated secrets), which must outlive it.
//
// What is desired in steady state comes from Desired. Jobs that must run in
// order (install and upgrade steps, the admin bootstrap, server settings)
// and generated secrets (created once, never updated) have their own
// builders: the reconciler decides when to apply them. A Job's pod template
// is immutable, so a Job is created once and then only read (its name
// changes when what it must do changes).
package resources
