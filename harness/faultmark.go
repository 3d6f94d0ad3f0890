package harness

import "strings"

// FaultMark says what a nemesis op does to the faults: it starts or stops
// the fault of one package; Stop with no Package stops every package's
// (Jepsen's "heal"). The runner records it in Op.Fault, beside the F that
// Jepsen's tools read ("start-<package>", "stop-<package>").
type FaultMark struct {
	Package string `json:"package,omitempty"`
	Stop    bool   `json:"stop,omitempty"`
}

// FaultMark is what nemesis op o does to the faults, and whether it does
// anything. Histories written before Op.Fault, and Jepsen's, say it only
// in F: "start-<package>" and "stop-<package>"; Jepsen's bare "start" and
// "stop" (package "nemesis"); "heal", "heal-all" and "stop-all" (every
// package). This is the one place that reads those strings.
func (o Op) FaultMark() (FaultMark, bool) {
	if !o.IsNemesis() {
		return FaultMark{}, false
	}
	if o.Fault != nil {
		return *o.Fault, true
	}
	switch o.F {
	case "heal", "heal-all", "stop-all":
		return FaultMark{Stop: true}, true
	case "start":
		return FaultMark{Package: "nemesis"}, true
	case "stop":
		return FaultMark{Package: "nemesis", Stop: true}, true
	}
	if pkg, ok := strings.CutPrefix(o.F, "start-"); ok && pkg != "" {
		return FaultMark{Package: pkg}, true
	}
	if pkg, ok := strings.CutPrefix(o.F, "stop-"); ok && pkg != "" {
		return FaultMark{Package: pkg, Stop: true}, true
	}
	return FaultMark{}, false
}
