package docker

import (
	"net/netip"
	"os"
	"os/exec"
	"testing"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// execSelf runs this test binary again with only the named test.
func execSelf(t *testing.T, run string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.v")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	return cmd
}
