package exec

import (
	"fmt"
	"slices"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// debugAddr is where node n serves /debug/status, /debug/digest and
// /debug/clock: the port the file's debug_port names (a monitoring port of
// its own), else the client port.
func (s *System) debugAddr(n harness.Node) string {
	if s.f.DebugPort != "" {
		return n.Ports[s.f.DebugPort]
	}
	return n.Addr()
}

// checkDebugPort: debug_port must be one of the file's ports.
func checkDebugPort(f *File) error {
	if f.DebugPort == "" || slices.Contains(f.Ports, f.DebugPort) {
		return nil
	}
	return fmt.Errorf("debug_port: %q is not one of ports %v (name it there too)", f.DebugPort, f.Ports)
}
