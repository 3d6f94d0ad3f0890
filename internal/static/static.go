// Package static checks node binaries meant for machines other than the
// harness's own (containers FROM scratch, remote hosts): they must be
// static Linux executables, since the target has none of our libraries.
package static

import (
	"debug/elf"
	"fmt"
)

// Check returns an error unless path is a statically linked Linux (ELF)
// executable.
func Check(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not a Linux executable: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; a machine without our libraries needs a static binary", path)
		}
	}
	return nil
}
