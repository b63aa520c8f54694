package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// The operator's identity as config/rbac ships it: the ServiceAccount its
// ClusterRoleBinding and leader-election RoleBinding name.
const (
	OperatorNamespace      = "fedcommons-system"
	OperatorServiceAccount = "fedcommons"
)

// OperatorUser is the user name the API server gives the operator's
// ServiceAccount token.
const OperatorUser = "system:serviceaccount:" + OperatorNamespace + ":" + OperatorServiceAccount

// AsOperator returns a copy of cfg (an admin's) that impersonates the
// operator's ServiceAccount, with the groups a ServiceAccount token
// carries. A manager started with it has the shipped RBAC and nothing
// more: a verb missing from config/rbac fails what needs it, as it would
// in a real cluster. The admin's cfg itself is left alone for assertions.
func AsOperator(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.Impersonate = rest.ImpersonationConfig{
		UserName: OperatorUser,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + OperatorNamespace, "system:authenticated"},
	}
	return out
}

// InstallOperatorRBAC creates every object `kubectl apply -k config/rbac`
// would (the resources its kustomization.yaml lists): the operator's
// ServiceAccount, its generated ClusterRole and the hand-written roles and
// bindings, and the community roles it binds members to. The operator's
// namespace must exist. c must be allowed to create RBAC (an admin).
func InstallOperatorRBAC(ctx context.Context, c client.Client) error {
	dir, err := rbacDir()
	if err != nil {
		return err
	}
	files, err := kustomizationResources(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		objs, err := readObjects(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		for _, o := range objs {
			if err := c.Create(ctx, o); err != nil {
				return fmt.Errorf("config/rbac/%s: create %s %s: %w", f, o.GetKind(), o.GetName(), err)
			}
		}
	}
	return nil
}

func rbacDir() (string, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the repository to read config/rbac")
	}
	return filepath.Join(filepath.Dir(self), "..", "..", "config", "rbac"), nil
}

func kustomizationResources(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(k.Resources) == 0 {
		return nil, fmt.Errorf("%s lists no resources", path)
	}
	return k.Resources, nil
}

// readObjects decodes every document of a multi-document YAML file;
// comment-only documents are skipped.
func readObjects(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return readObjectsFrom(data, path)
}

// readObjectsFrom decodes data, read from path (named in errors).
func readObjectsFrom(data []byte, path string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		obj := map[string]any{}
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(obj) > 0 {
			out = append(out, &unstructured.Unstructured{Object: obj})
		}
	}
}
