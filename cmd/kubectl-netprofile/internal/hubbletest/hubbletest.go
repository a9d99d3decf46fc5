// Package hubbletest builds the flows Hubble prints, with Cilium's own flow types (flowpb) and the labels the
// agent puts on identities (pod labels, the namespace, the namespace's labels, the cluster; reserved, cidr: and
// fqdn: labels for what is not a pod), and writes them as `hubble observe -o json` does. For tests of the
// packages that read Hubble output (diagnose, replay, suggest) and of the plugin.
package hubbletest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	relaypb "github.com/cilium/cilium/api/v1/relay"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ProfileKey and AccessKey are the default contract's label keys.
const (
	ProfileKey     = "network-policy.homelab/profile"
	EnforcementKey = "network-policy.homelab/enforcement"
)

// AccessKey is the default contract's access label key of a SharedResource.
func AccessKey(resource string) string { return "access.network-policy.homelab/" + resource }

// End is one end of a flow.
type End interface {
	endpoint() *flowpb.Endpoint
	addr() string
	names() []string
}

// Pod is a pod: its namespace (and the namespace's labels), name, address and labels.
type Pod struct {
	Namespace, Name, IP string
	Labels, NSLabels    map[string]string
	// Cluster is the cluster name Hubble reports ("default" when empty).
	Cluster string
}

// Platform is the label that marks a namespace as the platform's (the default contract's), which the
// catalogue's namespaces carry once installed.
var Platform = map[string]string{"network-policy.homelab/platform": "true"}

// The platform side of the shipped catalogue as Hubble reports its pods: the gateways the profiles admit,
// kube-dns, the postgres provider and the Prometheus that scrapes, in marked namespaces (kube-system needs no
// mark). The tests of diagnose, replay and suggest share them.
var (
	InternalGateway = Pod{Namespace: "istio-gateway", Name: "internal-istio-7f9c4-q1w2e", IP: "10.0.5.2",
		Labels: map[string]string{"gateway.networking.k8s.io/gateway-name": "internal"}, NSLabels: Platform}
	ExternalGateway = Pod{Namespace: "istio-gateway", Name: "external-istio-7f9c4-r3t4y", IP: "10.0.5.3",
		Labels: map[string]string{"gateway.networking.k8s.io/gateway-name": "external"}, NSLabels: Platform}
	CoreDNS = Pod{Namespace: "kube-system", Name: "coredns-6f6b679f8f-abcde", IP: "10.0.0.10",
		Labels: map[string]string{"k8s-app": "kube-dns"}}
	Postgres = Pod{Namespace: "database", Name: "postgres-1-0a1b2c", IP: "10.0.3.5",
		Labels: map[string]string{"cnpg.io/cluster": "postgres"}, NSLabels: Platform}
	Prometheus = Pod{Namespace: "monitoring", Name: "prometheus-k8s-0-p0p0p0", IP: "10.0.6.9",
		Labels: map[string]string{"app.kubernetes.io/name": "prometheus"}, NSLabels: Platform}
)

func (p Pod) addr() string    { return p.IP }
func (p Pod) names() []string { return nil }

// identity numbers: the same labels get the same identity, as in the agent.
var identities = map[string]uint32{}

func (p Pod) endpoint() *flowpb.Endpoint {
	cluster := p.Cluster
	if cluster == "" {
		cluster = "default"
	}
	labels := []string{
		"k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=" + p.Namespace,
		"k8s:io.cilium.k8s.policy.cluster=" + cluster,
		"k8s:io.kubernetes.pod.namespace=" + p.Namespace,
	}
	if _, ok := p.Labels["io.cilium.k8s.policy.serviceaccount"]; !ok {
		labels = append(labels, "k8s:io.cilium.k8s.policy.serviceaccount=default")
	}
	for _, k := range slices.Sorted(maps.Keys(p.NSLabels)) {
		labels = append(labels, "k8s:io.cilium.k8s.namespace.labels."+k+"="+p.NSLabels[k])
	}
	for _, k := range slices.Sorted(maps.Keys(p.Labels)) {
		labels = append(labels, "k8s:"+k+"="+p.Labels[k])
	}
	slices.Sort(labels)
	key := fmt.Sprint(labels)
	id, ok := identities[key]
	if !ok {
		id = uint32(40000 + len(identities))
		identities[key] = id
	}
	workload := p.Name
	if len(workload) > 6 {
		workload = workload[:len(workload)-6]
	}
	return &flowpb.Endpoint{
		ID: 1000 + id%1000, Identity: id, ClusterName: cluster, Namespace: p.Namespace, Labels: labels, PodName: p.Name,
		Workloads: []*flowpb.Workload{{Name: workload, Kind: "Deployment"}},
	}
}

// External is anything that is not a pod, as Hubble prints it: an identity number and its labels (reserved:,
// cidr:, fqdn:), the address and the DNS names it was looked up as.
type External struct {
	Identity uint32
	Labels   []string
	IP       string
	Names    []string
}

func (e External) endpoint() *flowpb.Endpoint {
	return &flowpb.Endpoint{Identity: e.Identity, Labels: slices.Clone(e.Labels)}
}
func (e External) addr() string    { return e.IP }
func (e External) names() []string { return e.Names }

// World is an address outside the cluster with the world identity, looked up as names.
func World(ip string, names ...string) External {
	return External{Identity: 2, Labels: []string{"reserved:world"}, IP: ip, Names: names}
}

// FQDN is an address outside the cluster that a toFQDNs selector selected: a local identity with the
// selector's fqdn: label.
func FQDN(ip, selector string, names ...string) External {
	return External{Identity: 16777217, Labels: []string{"fqdn:" + selector, "reserved:world"}, IP: ip, Names: names}
}

// CIDR is an address outside the cluster that a CIDR selector selected.
func CIDR(ip, prefix string) External {
	return External{Identity: 16777218, Labels: []string{"cidr:" + prefix, "reserved:world"}, IP: ip}
}

// Reserved is a reserved identity (host, remote-node, kube-apiserver, health) with the labels Hubble prints.
func Reserved(identity uint32, ip string, labels ...string) External {
	return External{Identity: identity, Labels: labels, IP: ip}
}

// L4 is the layer 4 of a flow.
type L4 func() *flowpb.Layer4

// TCP is a TCP flow to port.
func TCP(port uint32) L4 {
	return func() *flowpb.Layer4 {
		return &flowpb.Layer4{Protocol: &flowpb.Layer4_TCP{TCP: &flowpb.TCP{SourcePort: 41234, DestinationPort: port, Flags: &flowpb.TCPFlags{SYN: true}}}}
	}
}

// UDP is a UDP flow to port.
func UDP(port uint32) L4 {
	return func() *flowpb.Layer4 {
		return &flowpb.Layer4{Protocol: &flowpb.Layer4_UDP{UDP: &flowpb.UDP{SourcePort: 53111, DestinationPort: port}}}
	}
}

// ICMP is an ICMPv4 echo request.
func ICMP() *flowpb.Layer4 {
	return &flowpb.Layer4{Protocol: &flowpb.Layer4_ICMPv4{ICMPv4: &flowpb.ICMPv4{Type: 8}}}
}

var (
	// Epoch is the time of the first flow; each flow is a second later than the previous one.
	Epoch = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	clock = Epoch
)

// Reset starts the clock and the identity numbers over, so that a capture built after it is the same bytes
// whatever was built before.
func Reset() {
	clock = Epoch
	identities = map[string]uint32{}
}

// Flow is a flow between two ends with the verdict, drop reason (for drops) and direction.
func Flow(verdict flowpb.Verdict, reason flowpb.DropReason, dir flowpb.TrafficDirection, src, dst End, proto L4) *flowpb.Flow {
	clock = clock.Add(time.Second)
	f := &flowpb.Flow{
		Time:             timestamppb.New(clock),
		Uuid:             "4c1e8f0e-0000-4000-8000-" + clock.Format("150405000000"),
		Emitter:          &flowpb.Emitter{Name: "Hubble", Version: "1.20.2"},
		Verdict:          verdict,
		IP:               &flowpb.IP{Source: src.addr(), Destination: dst.addr(), IpVersion: flowpb.IPVersion_IPv4},
		L4:               proto(),
		Source:           src.endpoint(),
		Destination:      dst.endpoint(),
		Type:             flowpb.FlowType_L3_L4,
		NodeName:         "default/k8s-worker-1",
		SourceNames:      src.names(),
		DestinationNames: dst.names(),
		TrafficDirection: dir,
		Interface:        &flowpb.NetworkInterface{Index: 12, Name: "lxc1234abcd"},
	}
	if verdict == flowpb.Verdict_DROPPED {
		f.DropReason = uint32(reason) //nolint:staticcheck // SA1019: Hubble still fills both fields; so do the fixtures
		f.DropReasonDesc = reason
		f.EventType = &flowpb.CiliumEventType{Type: 1, SubType: int32(reason)}
	} else {
		f.IsReply = wrapperspb.Bool(false)
		f.EventType = &flowpb.CiliumEventType{Type: 4}
		f.TraceObservationPoint = flowpb.TraceObservationPoint_TO_ENDPOINT
	}
	return f
}

// Forwarded is an allowed flow, as the egress side reports it.
func Forwarded(src, dst End, proto L4) *flowpb.Flow {
	return Flow(flowpb.Verdict_FORWARDED, 0, flowpb.TrafficDirection_EGRESS, src, dst, proto)
}

// Audited is a flow Cilium's audit mode let through that policy would drop.
func Audited(src, dst End, proto L4) *flowpb.Flow {
	return Flow(flowpb.Verdict_AUDIT, 0, flowpb.TrafficDirection_EGRESS, src, dst, proto)
}

// EgressDrop is a flow the source's egress policy dropped (default deny).
func EgressDrop(src, dst End, proto L4) *flowpb.Flow {
	return Flow(flowpb.Verdict_DROPPED, flowpb.DropReason_POLICY_DENIED, flowpb.TrafficDirection_EGRESS, src, dst, proto)
}

// IngressDrop is a flow the destination's ingress policy dropped (default deny).
func IngressDrop(src, dst End, proto L4) *flowpb.Flow {
	return Flow(flowpb.Verdict_DROPPED, flowpb.DropReason_POLICY_DENIED, flowpb.TrafficDirection_INGRESS, src, dst, proto)
}

// Reply is the reply of a forwarded flow: destination to source.
func Reply(f *flowpb.Flow) *flowpb.Flow {
	r := proto.Clone(f).(*flowpb.Flow)
	r.Source, r.Destination = f.GetDestination(), f.GetSource()
	r.IP = &flowpb.IP{Source: f.GetIP().GetDestination(), Destination: f.GetIP().GetSource(), IpVersion: flowpb.IPVersion_IPv4}
	r.SourceNames, r.DestinationNames = f.GetDestinationNames(), f.GetSourceNames()
	r.IsReply = wrapperspb.Bool(true)
	return r
}

// AllowedBy records the policies Hubble names as allowing the flow on its egress (or ingress) side:
// "Kind namespace/name" or "Kind name".
func AllowedBy(f *flowpb.Flow, egress bool, kind, namespace, name string) *flowpb.Flow {
	p := &flowpb.Policy{Kind: kind, Namespace: namespace, Name: name}
	if egress {
		f.EgressAllowedBy = append(f.EgressAllowedBy, p)
	} else {
		f.IngressAllowedBy = append(f.IngressAllowedBy, p)
	}
	return f
}

// Times repeats a flow: n copies, each its own event.
func Times(n int, f func() *flowpb.Flow) []*flowpb.Flow {
	out := make([]*flowpb.Flow, n)
	for i := range out {
		out[i] = f()
	}
	return out
}

// Response is the GetFlowsResponse `hubble observe -o json` prints a flow as.
func Response(f *flowpb.Flow) *observerpb.GetFlowsResponse {
	return &observerpb.GetFlowsResponse{ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: f}, NodeName: f.GetNodeName(), Time: f.GetTime()}
}

// NodeStatus is the event Hubble Relay prints when it connects to the node's Hubble: not a flow.
func NodeStatus() *observerpb.GetFlowsResponse {
	return &observerpb.GetFlowsResponse{ResponseTypes: &observerpb.GetFlowsResponse_NodeStatus{NodeStatus: &relaypb.NodeStatusEvent{
		StateChange: relaypb.NodeState_NODE_CONNECTED, NodeNames: []string{"default/k8s-worker-1"},
	}}}
}

// Lines is `hubble observe -o json` output of flows: one GetFlowsResponse per line (see Events).
func Lines(flows ...*flowpb.Flow) ([]byte, error) {
	events := make([]*observerpb.GetFlowsResponse, len(flows))
	for i, f := range flows {
		events[i] = Response(f)
	}
	return Events(events...)
}

// Events is `hubble observe -o json` output: one event per line, compacted so that the bytes are stable
// (protojson randomises whitespace).
func Events(events ...*observerpb.GetFlowsResponse) ([]byte, error) {
	var buf bytes.Buffer
	for _, ev := range events {
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(ev)
		if err != nil {
			return nil, err
		}
		if err := json.Compact(&buf, b); err != nil {
			return nil, err
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}
