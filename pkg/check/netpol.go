package check

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/cilium/cilium/pkg/k8s"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ValidateNetworkPolicy refuses a NetworkPolicy read from a file that the API server would refuse, or that
// Cilium's parser rejects. Cilium reads a few things the API server never lets through (a lowercase protocol,
// a CIDR that does not parse as one): judging those would answer for a policy that cannot exist.
func ValidateNetworkPolicy(knp *networkingv1.NetworkPolicy) error {
	var errs []error
	if msgs := validation.IsDNS1123Subdomain(knp.Name); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("metadata.name %q: %v", knp.Name, msgs))
	}
	selector := func(path string, s *metav1.LabelSelector) {
		if s == nil {
			return
		}
		if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
	}
	peers := func(path string, ps []networkingv1.NetworkPolicyPeer) {
		for i, p := range ps {
			at := fmt.Sprintf("%s[%d]", path, i)
			selector(at+".podSelector", p.PodSelector)
			selector(at+".namespaceSelector", p.NamespaceSelector)
			switch {
			case p.IPBlock == nil && p.PodSelector == nil && p.NamespaceSelector == nil:
				errs = append(errs, fmt.Errorf("%s: must name a podSelector, a namespaceSelector or an ipBlock", at))
			case p.IPBlock != nil && (p.PodSelector != nil || p.NamespaceSelector != nil):
				errs = append(errs, fmt.Errorf("%s: ipBlock may not be combined with a selector", at))
			case p.IPBlock != nil:
				errs = append(errs, ipBlock(at+".ipBlock", p.IPBlock)...)
			}
		}
	}
	ports := func(path string, ps []networkingv1.NetworkPolicyPort) {
		for i, p := range ps {
			errs = append(errs, port(fmt.Sprintf("%s[%d]", path, i), p)...)
		}
	}
	selector("spec.podSelector", &knp.Spec.PodSelector)
	for i, r := range knp.Spec.Ingress {
		peers(fmt.Sprintf("spec.ingress[%d].from", i), r.From)
		ports(fmt.Sprintf("spec.ingress[%d].ports", i), r.Ports)
	}
	for i, r := range knp.Spec.Egress {
		peers(fmt.Sprintf("spec.egress[%d].to", i), r.To)
		ports(fmt.Sprintf("spec.egress[%d].ports", i), r.Ports)
	}
	if len(knp.Spec.PolicyTypes) > 2 {
		errs = append(errs, errors.New("spec.policyTypes: at most Ingress and Egress"))
	}
	for _, t := range knp.Spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, fmt.Errorf("spec.policyTypes: %q is neither Ingress nor Egress", t))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	slim, err := slimNetworkPolicy(knp)
	if err != nil {
		return err
	}
	if _, err := k8s.ParseNetworkPolicy(slog.New(slog.DiscardHandler), ClusterName, slim); err != nil {
		return fmt.Errorf("rejected by Cilium: %w", err)
	}
	return nil
}

func port(path string, p networkingv1.NetworkPolicyPort) []error {
	var errs []error
	if p.Protocol != nil {
		switch *p.Protocol {
		case "TCP", "UDP", "SCTP":
		default:
			errs = append(errs, fmt.Errorf("%s.protocol: %q is not TCP, UDP or SCTP (upper case)", path, *p.Protocol))
		}
	}
	if p.Port != nil {
		if p.Port.Type == intstr.Int {
			if msgs := validation.IsValidPortNum(p.Port.IntValue()); len(msgs) > 0 {
				errs = append(errs, fmt.Errorf("%s.port: %v", path, msgs))
			}
		} else if msgs := validation.IsValidPortName(p.Port.StrVal); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s.port: %v", path, msgs))
		}
	}
	if p.EndPort != nil {
		switch {
		case p.Port == nil || p.Port.Type != intstr.Int:
			errs = append(errs, fmt.Errorf("%s.endPort: needs a numeric port", path))
		case *p.EndPort < p.Port.IntVal || *p.EndPort > 65535:
			errs = append(errs, fmt.Errorf("%s.endPort: %d is not between port %d and 65535", path, *p.EndPort, p.Port.IntVal))
		}
	}
	return errs
}

func ipBlock(path string, b *networkingv1.IPBlock) []error {
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return []error{fmt.Errorf("%s.cidr: %w", path, err)}
	}
	var errs []error
	for i, e := range b.Except {
		except, err := netip.ParsePrefix(e)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s.except[%d]: %w", path, i, err))
		case !cidr.Contains(except.Addr()) || except.Bits() <= cidr.Bits():
			errs = append(errs, fmt.Errorf("%s.except[%d]: %s is not strictly within %s", path, i, e, b.CIDR))
		}
	}
	return errs
}
