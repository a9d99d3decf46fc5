package check

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cilium/cilium/pkg/crypto/certificatemanager"
	"github.com/cilium/cilium/pkg/endpoint/regeneration"
	envoypolicy "github.com/cilium/cilium/pkg/envoy/policy"
	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/identity/identitymanager"
	"github.com/cilium/cilium/pkg/labels"
	ciliumpolicy "github.com/cilium/cilium/pkg/policy"
	"github.com/cilium/cilium/pkg/u8proto"
)

// Flow is one flow to check: source, destination and destination port.
type Flow struct {
	From Endpoint `json:"from"`
	To   Endpoint `json:"to"`
	Port Port     `json:"port"`
}

// CheckAll checks many flows against the policy set, with the verdicts and explanations Check gives each of
// them. Every endpoint's identity goes into one policy repository, and the policy of each pod is computed
// and distilled once, as the agent does once per endpoint, so a further flow costs a lookup in the distilled
// policy map of each side. Endpoints with the same identity labels share an identity, as in the agent.
// Results are in the order of flows.
func (e *Engine) CheckAll(flows []Flow) ([]*Result, error) {
	b, err := e.newBatch(flows)
	if err != nil {
		return nil, err
	}
	out := make([]*Result, len(flows))
	for i, f := range flows {
		if out[i], err = b.check(f); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// batch is one policy repository holding the identities of a set of flows, with each pod's distilled policy.
type batch struct {
	e        *Engine
	repo     *ciliumpolicy.Repository
	ids      map[string]*identity.Identity // by endpointKey
	entries  []entryOf
	policies map[identity.NumericIdentity]*ciliumpolicy.EndpointPolicy
	selected map[selectedKey][]PolicyRef
}

type selectedKey struct {
	id      identity.NumericIdentity
	ingress bool
}

// endpointKey tells endpoints apart by what makes their identity.
func endpointKey(ep Endpoint) string {
	kv := make([]string, 0, len(ep.Labels))
	for _, k := range slices.Sorted(maps.Keys(ep.Labels)) {
		kv = append(kv, k+"="+ep.Labels[k])
	}
	return strings.Join([]string{ep.Namespace, strings.Join(kv, ","), ep.Entity, strings.Join(ep.Entities, "+"), ep.CIDR,
		strings.Join(ep.Names, ","), ep.Cluster}, "\x00")
}

func (e *Engine) newBatch(flows []Flow) (*batch, error) {
	b := &batch{e: e, ids: map[string]*identity.Identity{}, policies: map[identity.NumericIdentity]*ciliumpolicy.EndpointPolicy{},
		selected: map[selectedKey][]PolicyRef{}}
	// Identities by their labels: endpoints the agent could not tell apart get one number.
	byLabels := map[string]*identity.Identity{}
	// A reserved identity has one number whatever labels it carries on this node: the union of what the
	// flows say (the host with and without the kube-apiserver label is one identity in the agent).
	reserved := map[identity.NumericIdentity]labels.Labels{}
	next := identity.NumericIdentity(10000)
	for _, f := range flows {
		if _, err := f.Port.proto(); err != nil {
			return nil, err
		}
		for _, ep := range []Endpoint{f.From, f.To} {
			key := endpointKey(ep)
			if _, ok := b.ids[key]; ok {
				continue
			}
			lbls, err := e.labelsOf(ep)
			if err != nil {
				return nil, err
			}
			if ep.Entity != "" {
				num := identity.GetReservedID(ep.Entity)
				if reserved[num] == nil {
					reserved[num] = labels.Labels{}
				}
				maps.Copy(reserved[num], lbls)
				b.ids[key] = &identity.Identity{ID: num} // labels filled in below
				continue
			}
			scope := "pod"
			if ep.CIDR != "" {
				scope = "cidr"
			}
			lk := scope + "\x00" + string(lbls.SortedList())
			id, ok := byLabels[lk]
			if !ok {
				num := next
				next++
				if ep.CIDR != "" {
					num |= identity.IdentityScopeLocal
				}
				id = identity.NewIdentity(num, lbls)
				byLabels[lk] = id
			}
			b.ids[key] = id
		}
	}
	for key, id := range b.ids {
		if lbls, ok := reserved[id.ID]; ok {
			b.ids[key] = identity.NewIdentity(id.ID, lbls)
		}
	}

	ids := identity.ListReservedIdentities()
	for _, id := range b.ids {
		ids[id.ID] = id.LabelArray
	}
	idmgr := identitymanager.NewIDManager(e.logger)
	b.repo = ciliumpolicy.NewPolicyRepository(e.logger, ids, nil,
		envoypolicy.NewEnvoyL7RulesTranslator(e.logger, certificatemanager.NewMockSecretManagerInline()), idmgr, nil)
	b.repo.UpdateIdentities(ids, nil)
	for _, r := range e.resources {
		es, err := r.entries(e.logger, e.parseCluster)
		if err != nil {
			return nil, err
		}
		b.repo.ReplaceByResource(es, r.id)
		for _, entry := range es {
			b.entries = append(b.entries, entryOf{ref: r.ref, entry: entry})
		}
	}
	for _, id := range b.ids {
		idmgr.Add(id)
	}
	return b, nil
}

// policy is the identity's distilled policy map, computed once.
func (b *batch) policy(id *identity.Identity) (*ciliumpolicy.EndpointPolicy, error) {
	if p, ok := b.policies[id.ID]; ok {
		return p, nil
	}
	sel, _, err := b.repo.ComputeSelectorPolicy(id)
	if err != nil {
		return nil, fmt.Errorf("failed to compute the policy of identity %d in Cilium's policy engine: %w", id.ID, err)
	}
	// As policy.LookupFlow: a redirect to the L7 proxy counts as allowed.
	p := sel.DistillPolicy(b.e.logger, owner{id: uint64(id.ID)}, map[string]uint16{ciliumpolicy.FallbackRedirectID: 65535})
	_ = p.Ready()
	p.Detach(b.e.logger)
	sel.Supersede()
	b.policies[id.ID] = p
	return p, nil
}

func (b *batch) selecting(id *identity.Identity, ingress bool) []PolicyRef {
	k := selectedKey{id.ID, ingress}
	refs, ok := b.selected[k]
	if !ok {
		refs = selecting(b.entries, id, ingress)
		b.selected[k] = refs
	}
	return refs
}

func (b *batch) check(f Flow) (*Result, error) {
	proto, err := f.Port.proto()
	if err != nil {
		return nil, err
	}
	src, dst := b.ids[endpointKey(f.From)], b.ids[endpointKey(f.To)]
	res := &Result{From: f.From, To: f.To, Port: f.Port}
	if f.From.IsPod() {
		p, err := b.policy(src)
		if err != nil {
			return nil, err
		}
		entry, meta, _ := p.Lookup(ciliumpolicy.EgressKey().WithIdentity(dst.ID).WithPortProto(proto, f.Port.Number))
		res.Egress = direction(!entry.IsDeny(), meta, b.selecting(src, false), "egress", f.From)
	} else {
		res.Egress = notAnEndpoint(f.From, "egress")
	}
	if f.To.IsPod() {
		p, err := b.policy(dst)
		if err != nil {
			return nil, err
		}
		entry, meta, _ := p.Lookup(ciliumpolicy.IngressKey().WithIdentity(src.ID).WithPortProto(proto, f.Port.Number))
		res.Ingress = direction(!entry.IsDeny(), meta, b.selecting(dst, true), "ingress", f.To)
	} else {
		res.Ingress = notAnEndpoint(f.To, "ingress")
	}
	res.Allowed = res.Egress.Allowed && res.Ingress.Allowed
	return res, nil
}

// owner is the endpoint a policy is distilled for; like policy.LookupFlow's, it has no named ports.
type owner struct{ id uint64 }

var _ ciliumpolicy.PolicyOwner = owner{}

func (o owner) GetID() uint64                                    { return o.id }
func (owner) GetIngressNamedPort(string, u8proto.U8proto) uint16 { return 0 }
func (owner) PolicyDebug(string, ...any)                         {}
func (owner) IsHost() bool                                       { return false }
func (owner) PreviousMapStateSizes() ciliumpolicy.MapStateSizes  { return ciliumpolicy.MapStateSizes{} }
func (owner) RegenerateIfAlive(*regeneration.ExternalRegenerationMetadata) <-chan bool {
	ch := make(chan bool)
	close(ch)
	return ch
}
