package diagnose

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/netprofile/netprofile/pkg/manifest"
)

// unmarshal tolerates fields newer Hubble versions add.
var unmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// Input is what Parse read.
type Input struct {
	Flows []*flowpb.Flow
	// NotFlows counts lines that were valid events but not flows (node status, lost events).
	NotFlows int
}

// Limits bound what Parse reads: Hubble's output comes from files and pipes, and every flow parsed is kept.
type Limits struct {
	// Bytes is the most read in all.
	Bytes int64
	// LineBytes is the longest line: a flow with long label lists is tens of KiB.
	LineBytes int
	// Flows is the most events (flows and others) read.
	Flows int
}

// DefaultLimits are above what Hubble Relay serves (it keeps minutes of flows) and what a day of a busy
// namespace's `hubble observe` writes.
var DefaultLimits = Limits{Bytes: 1 << 30, LineBytes: 16 << 20, Flows: 1_000_000}

// Parse reads one JSON object per line within DefaultLimits (see Limits.Parse).
func Parse(source string, r io.Reader) (*Input, error) { return DefaultLimits.Parse(source, r) }

// Parse reads one JSON object per line: Hubble's GetFlowsResponse (with a "flow" field, what
// `hubble observe -o json` prints) or a bare Flow. Blank lines are skipped; anything else is an error naming
// source and the line. Each line is parsed once, in time linear in its length.
func (l Limits) Parse(source string, r io.Reader) (*Input, error) {
	in := &Input{}
	sc := bufio.NewScanner(manifest.LimitReader(source, r, l.Bytes))
	sc.Buffer(make([]byte, 0, min(1<<20, l.LineBytes)), l.LineBytes)
	events := 0
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if events++; events > l.Flows {
			return nil, &manifest.LimitError{Source: fmt.Sprintf("%s:%d", source, n),
				What: fmt.Sprintf("more than %d Hubble events, the most the plugin reads at once", l.Flows)}
		}
		// What `hubble observe -o json` prints is a GetFlowsResponse with the flow first: no need to probe it.
		response := bytes.HasPrefix(line, []byte(`{"flow":`))
		if !response {
			var probe map[string]json.RawMessage
			if err := json.Unmarshal(line, &probe); err != nil {
				return nil, fmt.Errorf("%s: failed to parse line %d as JSON: %w", source, n, err)
			}
			_, isFlow := probe["flow"]
			response = isFlow || probe["node_status"] != nil || probe["lost_events"] != nil ||
				probe["nodeStatus"] != nil || probe["lostEvents"] != nil
		}
		if response {
			resp := &observerpb.GetFlowsResponse{}
			if err := unmarshal.Unmarshal(line, resp); err != nil {
				return nil, fmt.Errorf("%s: failed to parse line %d as a Hubble GetFlowsResponse: %w", source, n, err)
			}
			if f := resp.GetFlow(); f != nil {
				in.Flows = append(in.Flows, f)
			} else {
				in.NotFlows++
			}
			continue
		}
		f := &flowpb.Flow{}
		if err := unmarshal.Unmarshal(line, f); err != nil {
			return nil, fmt.Errorf("%s: failed to parse line %d as a Hubble flow: %w", source, n, err)
		}
		in.Flows = append(in.Flows, f)
	}
	if err := sc.Err(); err != nil {
		var le *manifest.LimitError
		switch {
		case errors.As(err, &le):
			return nil, le
		case errors.Is(err, bufio.ErrTooLong):
			return nil, &manifest.LimitError{Source: source, What: fmt.Sprintf("a line longer than %d bytes, the most the plugin reads", l.LineBytes)}
		}
		return nil, fmt.Errorf("failed to read %s: %w", source, err)
	}
	return in, nil
}
