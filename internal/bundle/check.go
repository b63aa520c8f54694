package bundle

import (
	"fmt"
	"regexp"
	"slices"
)

// dnsName is what the API server accepts as the names the bundle uses in
// file names; anything else in a bundle is refused before it names a file.
var dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

// check verifies that the manifest names exactly the objects the bundle
// holds, all in the community's namespace, and that names are safe.
func (b *Bundle) check() error {
	m := &b.Manifest
	if !dnsName.MatchString(m.Community) || !dnsName.MatchString(m.Namespace) {
		return fmt.Errorf("manifest: community %q or namespace %q is not a valid name", m.Community, m.Namespace)
	}
	if b.Community == nil || b.Community.Name != m.Community {
		return fmt.Errorf("community.yaml is not Community %s", m.Community)
	}
	var instances, policies, secrets []string
	for _, e := range m.Instances {
		instances = append(instances, e.Name)
	}
	secrets = make([]string, 0, len(m.Secrets))
	for _, s := range m.Secrets {
		secrets = append(secrets, s.Name)
		if !slices.Contains(instances, s.Instance) {
			return fmt.Errorf("manifest: Secret %s belongs to Instance %q, which the bundle does not hold", s.Name, s.Instance)
		}
	}
	policies = append(policies, m.Policies...)
	for _, list := range []struct {
		what  string
		names []string
	}{{"Instance", instances}, {"FederationPolicy", policies}, {"Secret", secrets}} {
		seen := map[string]bool{}
		for _, n := range list.names {
			if !dnsName.MatchString(n) {
				return fmt.Errorf("manifest: %s name %q is not a valid name", list.what, n)
			}
			if seen[n] {
				return fmt.Errorf("manifest: %s %s is listed twice", list.what, n)
			}
			seen[n] = true
		}
	}
	if err := sameNames("Instance", instances, len(b.Instances), func(i int) (string, string) {
		return b.Instances[i].Name, b.Instances[i].Namespace
	}, m.Namespace); err != nil {
		return err
	}
	if err := sameNames("FederationPolicy", policies, len(b.Policies), func(i int) (string, string) {
		return b.Policies[i].Name, b.Policies[i].Namespace
	}, m.Namespace); err != nil {
		return err
	}
	if b.Secrets != nil {
		if err := sameNames("Secret", secrets, len(b.Secrets), func(i int) (string, string) {
			return b.Secrets[i].Name, b.Secrets[i].Namespace
		}, m.Namespace); err != nil {
			return err
		}
	}
	return nil
}

// sameNames checks that n objects are exactly the names listed, in order,
// each in namespace.
func sameNames(what string, listed []string, n int, get func(int) (name, namespace string), namespace string) error {
	if n != len(listed) {
		return fmt.Errorf("the manifest lists %d %ss, the bundle holds %d", len(listed), what, n)
	}
	for i := range n {
		name, ns := get(i)
		if name != listed[i] {
			return fmt.Errorf("%s %q is not the one the manifest lists (%q)", what, name, listed[i])
		}
		if ns != namespace {
			return fmt.Errorf("%s %s is in namespace %q, not the community's (%s)", what, name, ns, namespace)
		}
	}
	return nil
}
