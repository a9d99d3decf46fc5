package diagnose_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	relaypb "github.com/cilium/cilium/api/v1/relay"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Builders of the flows Hubble prints, with Cilium's own flow types and the labels the agent puts on
// identities: pod labels, the namespace, the namespace's labels and the cluster.

var (
	epoch   = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	nextID  uint32
	profile = "network-policy.homelab/profile"
)

type pod struct {
	ns, name, ip string
	labels       map[string]string
	nsLabels     map[string]string
}

func (p pod) endpoint() *flowpb.Endpoint {
	nextID++
	labels := []string{
		"k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=" + p.ns,
		"k8s:io.cilium.k8s.policy.cluster=default",
		"k8s:io.cilium.k8s.policy.serviceaccount=default",
		"k8s:io.kubernetes.pod.namespace=" + p.ns,
	}
	for _, k := range slices.Sorted(maps.Keys(p.nsLabels)) {
		labels = append(labels, "k8s:io.cilium.k8s.namespace.labels."+k+"="+p.nsLabels[k])
	}
	for _, k := range slices.Sorted(maps.Keys(p.labels)) {
		labels = append(labels, "k8s:"+k+"="+p.labels[k])
	}
	slices.Sort(labels)
	return &flowpb.Endpoint{
		ID: 1000 + nextID, Identity: 40000 + nextID, ClusterName: "default", Namespace: p.ns, Labels: labels, PodName: p.name,
		Workloads: []*flowpb.Workload{{Name: p.name[:len(p.name)-6], Kind: "Deployment"}},
	}
}

// reserved is an entity endpoint (world, kube-apiserver, host) as Hubble prints it.
func reserved(identity uint32, labels ...string) *flowpb.Endpoint {
	return &flowpb.Endpoint{Identity: identity, Labels: labels}
}

var (
	app = pod{ns: "my-app", name: "api-7d9f8-x2x4q", ip: "10.0.1.23", labels: map[string]string{"app": "api"},
		nsLabels: map[string]string{profile: "isolated"}}
	standardApp = pod{ns: "shop", name: "web-5c6b7-k8j2m", ip: "10.0.2.31", labels: map[string]string{"app": "web"},
		nsLabels: map[string]string{profile: "standard", "access.network-policy.homelab/postgres": "true"}}
	coredns = pod{ns: "kube-system", name: "coredns-6f6b679f8f-abcde", ip: "10.0.0.10",
		labels: map[string]string{"k8s-app": "kube-dns"}}
	postgres = pod{ns: "database", name: "postgres-1-0a1b2c", ip: "10.0.3.5",
		labels: map[string]string{"cnpg.io/cluster": "postgres"}}
	dragonflyInDatabase = pod{ns: "database", name: "dragonfly-0-d1e2f3", ip: "10.0.3.6",
		labels: map[string]string{"app": "dragonfly"}}
	dragonflyInCache = pod{ns: "cache", name: "dragonfly-0-a9b8c7", ip: "10.0.4.6",
		labels: map[string]string{"app": "dragonfly"}}
	internalGateway = pod{ns: "istio-gateway", name: "internal-istio-7f9c4-q1w2e", ip: "10.0.5.2",
		labels: map[string]string{"gateway.networking.k8s.io/gateway-name": "internal"}}
	externalGateway = pod{ns: "istio-gateway", name: "external-istio-7f9c4-r3t4y", ip: "10.0.5.3",
		labels: map[string]string{"gateway.networking.k8s.io/gateway-name": "external"}}
	prometheus = pod{ns: "monitoring", name: "prometheus-k8s-0-p0p0p0", ip: "10.0.6.9",
		labels: map[string]string{"app.kubernetes.io/name": "prometheus"}}
	world         = reserved(2, "reserved:world")
	kubeAPIServer = reserved(7, "reserved:kube-apiserver")
)

type l4 func() *flowpb.Layer4

func tcp(port uint32) l4 {
	return func() *flowpb.Layer4 {
		return &flowpb.Layer4{Protocol: &flowpb.Layer4_TCP{TCP: &flowpb.TCP{SourcePort: 41234, DestinationPort: port, Flags: &flowpb.TCPFlags{SYN: true}}}}
	}
}

func udp(port uint32) l4 {
	return func() *flowpb.Layer4 {
		return &flowpb.Layer4{Protocol: &flowpb.Layer4_UDP{UDP: &flowpb.UDP{SourcePort: 53111, DestinationPort: port}}}
	}
}

// flow builds one flow between two endpoints; src and dst are pods or reserved endpoints.
func flow(verdict flowpb.Verdict, reason flowpb.DropReason, dir flowpb.TrafficDirection,
	src, dst *flowpb.Endpoint, srcIP, dstIP string, proto l4, dstNames ...string) *flowpb.Flow {
	epoch = epoch.Add(time.Second)
	f := &flowpb.Flow{
		Time:             timestamppb.New(epoch),
		Uuid:             "4c1e8f0e-0000-4000-8000-" + epoch.Format("150405000000"),
		Emitter:          &flowpb.Emitter{Name: "Hubble", Version: "1.20.2"},
		Verdict:          verdict,
		IP:               &flowpb.IP{Source: srcIP, Destination: dstIP, IpVersion: flowpb.IPVersion_IPv4},
		L4:               proto(),
		Source:           src,
		Destination:      dst,
		Type:             flowpb.FlowType_L3_L4,
		NodeName:         "default/k8s-worker-1",
		DestinationNames: dstNames,
		TrafficDirection: dir,
		IsReply:          wrapperspb.Bool(false),
		Interface:        &flowpb.NetworkInterface{Index: 12, Name: "lxc1234abcd"},
	}
	if verdict == flowpb.Verdict_DROPPED {
		f.DropReason = uint32(reason)
		f.DropReasonDesc = reason
		f.EventType = &flowpb.CiliumEventType{Type: 1, SubType: int32(reason)}
	} else {
		f.EventType = &flowpb.CiliumEventType{Type: 4}
		f.TraceObservationPoint = flowpb.TraceObservationPoint_TO_ENDPOINT
	}
	return f
}

func egressDrop(src pod, dst *flowpb.Endpoint, dstIP string, proto l4, names ...string) *flowpb.Flow {
	return flow(flowpb.Verdict_DROPPED, flowpb.DropReason_POLICY_DENIED, flowpb.TrafficDirection_EGRESS,
		src.endpoint(), dst, src.ip, dstIP, proto, names...)
}

func ingressDrop(src *flowpb.Endpoint, srcIP string, dst pod, proto l4) *flowpb.Flow {
	return flow(flowpb.Verdict_DROPPED, flowpb.DropReason_POLICY_DENIED, flowpb.TrafficDirection_INGRESS,
		src, dst.endpoint(), srcIP, dst.ip, proto)
}

// jsonLines is `hubble observe -o json` output: one GetFlowsResponse per line. protojson randomises
// whitespace; compacting makes the lines byte-stable for the committed copy.
func jsonLines(t *testing.T, events ...*observerpb.GetFlowsResponse) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, ev := range events {
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Compact(&buf, b); err != nil {
			t.Fatal(err)
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func response(f *flowpb.Flow) *observerpb.GetFlowsResponse {
	return &observerpb.GetFlowsResponse{
		ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: f}, NodeName: f.GetNodeName(), Time: f.GetTime(),
	}
}

func nodeStatus() *observerpb.GetFlowsResponse {
	return &observerpb.GetFlowsResponse{ResponseTypes: &observerpb.GetFlowsResponse_NodeStatus{NodeStatus: &relaypb.NodeStatusEvent{
		StateChange: relaypb.NodeState_NODE_CONNECTED, NodeNames: []string{"default/k8s-worker-1"},
	}}}
}
