package daemon

import (
	"fmt"

	"github.com/vigil-ha/vigil/check"
)

// noPeerFault is the cause, in words, of the FAULT that
// unicast_fault_no_peer asks for when no unicast peer is configured.
const noPeerFault = "no unicast peers (unicast_fault_no_peer)"

// configFaultRefs appends the faults inst's configuration itself causes,
// as weight-0 failed trackers: keepalived's configuration faults hold an
// instance in FAULT for as long as that configuration runs.
func (inst *instance) configFaultRefs(out []check.Ref) []check.Ref {
	if inst.cfg.UnicastNoPeerFault {
		out = append(out, check.Ref{Kind: check.KindConfig, Name: noPeerFault, State: check.StateFailed})
	}
	return out
}

// logConfigFaults logs, when inst is built, the configuration faults that
// will hold it in FAULT, with keepalived's line.
func (inst *instance) logConfigFaults() {
	if inst.cfg.UnicastNoPeerFault {
		inst.log.Info(fmt.Sprintf("(%s) Cannot use unicast without any peers - going to fault state", inst.cfg.Name))
	}
}
