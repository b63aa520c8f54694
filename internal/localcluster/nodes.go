package localcluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Node capacity advertised by every kwok node: room for a demo's worth of
// Instances with realistic requests.
var nodeCapacity = corev1.ResourceList{
	corev1.ResourceCPU:    resource.MustParse("32"),
	corev1.ResourceMemory: resource.MustParse("256Gi"),
	corev1.ResourcePods:   resource.MustParse("110"),
}

// nodeObject is the i-th kwok node. It carries kwok's annotation (kwok
// manages only annotated nodes), capacity for a demo, and no taints: with
// the node-lifecycle controller off nothing would ever remove them.
func nodeObject(i int) *corev1.Node {
	name := fmt.Sprintf("kwok-node-%d", i)
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Annotations: map[string]string{
				kwokNodeAnnotationKey:          kwokNodeAnnotationValue,
				"node.alpha.kubernetes.io/ttl": "0",
			},
			Labels: map[string]string{
				"kubernetes.io/hostname":        name,
				"kubernetes.io/os":              "linux",
				"kubernetes.io/arch":            "amd64",
				"node-role.kubernetes.io/agent": "",
				"type":                          "kwok",
			},
		},
		Status: corev1.NodeStatus{
			Capacity:    nodeCapacity.DeepCopy(),
			Allocatable: nodeCapacity.DeepCopy(),
		},
	}
}

// nodesReady succeeds when want kwok nodes report Ready and none is tainted
// not-ready (which would keep every Pod Pending).
func nodesReady(ctx context.Context, cs kubernetes.Interface, want int) error {
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	ready := 0
	for _, n := range list.Items {
		if n.Annotations[kwokNodeAnnotationKey] != kwokNodeAnnotationValue {
			continue
		}
		for _, t := range n.Spec.Taints {
			if t.Key == corev1.TaintNodeNotReady {
				return fmt.Errorf("node %s has the %s taint", n.Name, t.Key)
			}
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	if ready < want {
		return fmt.Errorf("%d of %d kwok node(s) Ready", ready, want)
	}
	return nil
}
