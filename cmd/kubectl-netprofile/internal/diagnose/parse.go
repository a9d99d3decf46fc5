package diagnose

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/encoding/protojson"
)

// unmarshal tolerates fields newer Hubble versions add.
var unmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// Input is what Parse read.
type Input struct {
	Flows []*flowpb.Flow
	// NotFlows counts lines that were valid events but not flows (node status, lost events).
	NotFlows int
}

// Parse reads one JSON object per line: Hubble's GetFlowsResponse (with a "flow" field, what
// `hubble observe -o json` prints) or a bare Flow. Blank lines are skipped; anything else is an error naming
// the line.
func Parse(r io.Reader) (*Input, error) {
	in := &Input{}
	sc := bufio.NewScanner(r)
	// Flows with long label lists exceed the default 64 KiB line limit.
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		// What `hubble observe -o json` prints is a GetFlowsResponse with the flow first: no need to probe it.
		response := bytes.HasPrefix(line, []byte(`{"flow":`))
		if !response {
			var probe map[string]json.RawMessage
			if err := json.Unmarshal(line, &probe); err != nil {
				return nil, fmt.Errorf("failed to parse line %d as JSON: %w", n, err)
			}
			_, isFlow := probe["flow"]
			response = isFlow || probe["node_status"] != nil || probe["lost_events"] != nil ||
				probe["nodeStatus"] != nil || probe["lostEvents"] != nil
		}
		if response {
			resp := &observerpb.GetFlowsResponse{}
			if err := unmarshal.Unmarshal(line, resp); err != nil {
				return nil, fmt.Errorf("failed to parse line %d as a Hubble GetFlowsResponse: %w", n, err)
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
			return nil, fmt.Errorf("failed to parse line %d as a Hubble flow: %w", n, err)
		}
		in.Flows = append(in.Flows, f)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("failed to read flows: %w", err)
	}
	return in, nil
}
