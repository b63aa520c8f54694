package resources

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/software"
)

// Desired returns the long-lived objects of a hosted Instance running a
// version: the data volume, the bundled database and Redis, the
// Deployments and Services, the Ingress or HTTPRoute, the Certificate, the
// maintenance CronJobs and the NetworkPolicies.
//
// It leaves out what the reconciler sequences or creates once: the
// generated secrets (GeneratedSecrets), the install and upgrade Jobs
// (software.Profile.UpgradePlan and StepJob), the admin bootstrap
// (AdminJob) and server settings (RegistrationsJob).
//
// version is the version the Deployments run: during an upgrade, the
// running version until the pre-deployment steps are done.
func Desired(inst *v1alpha1.Instance, p *software.Profile, version string, params Params) ([]client.Object, error) {
	if err := checkHosted(inst); err != nil {
		return nil, err
	}
	var out []client.Object
	add := func(o client.Object, present bool) {
		if present {
			out = append(out, o)
		}
	}

	pvc := DataVolumeClaim(inst, p, params)
	add(pvc, pvc != nil)
	if pg := PostgresStatefulSet(inst, p, params); pg != nil {
		out = append(out, PostgresService(inst, p, params), pg)
	}
	if r := RedisStatefulSet(inst, p, params); r != nil {
		out = append(out, RedisService(inst, p, params), r)
	}

	deployments, err := Deployments(inst, p, version, params)
	if err != nil {
		return nil, err
	}
	for _, d := range deployments {
		out = append(out, d)
	}
	services, err := Services(inst, p, version, params)
	if err != nil {
		return nil, err
	}
	for _, s := range services {
		out = append(out, s)
	}

	ing, err := Ingress(inst, p, version, params)
	if err != nil {
		return nil, err
	}
	add(ing, ing != nil)
	route, err := HTTPRoute(inst, p, version, params)
	if err != nil {
		return nil, err
	}
	add(route, route != nil)
	cert := Certificate(inst, params)
	add(cert, cert != nil)

	crons, err := MaintenanceCronJobs(inst, p, version, params)
	if err != nil {
		return nil, err
	}
	for _, c := range crons {
		out = append(out, c)
	}
	policies, err := NetworkPolicies(inst, p, version, params)
	if err != nil {
		return nil, err
	}
	for _, np := range policies {
		out = append(out, np)
	}
	return out, nil
}
