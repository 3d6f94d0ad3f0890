package main

import (
	"fmt"
	"io"
	"strings"
)

// bugInfo is one entry of a mode's bug catalog.
type bugInfo struct {
	Name        string
	Description string
}

// bugCatalog returns the catalog of mode; known=false when the mode does not
// publish one yet (then --bug is passed through unchecked).
func bugCatalog(mode string) (cat []bugInfo, known bool) {
	switch mode {
	case "raft":
		return raftBugs(), true
	default:
		// Hook for quorum.Bugs() (same shape as raft.Bugs()) once it exists.
		return nil, false
	}
}

func bugNames(cat []bugInfo) string {
	names := make([]string, len(cat))
	for i, b := range cat {
		names[i] = b.Name
	}
	if len(names) == 0 {
		return "the catalog is empty"
	}
	return "known: " + strings.Join(names, ", ")
}

func listBugs(mode string, stdout, stderr io.Writer) int {
	cat, known := bugCatalog(mode)
	if !known {
		fmt.Fprintf(stderr, "kvnode: %s mode has no bug catalog yet\n", mode)
		return exitFailure
	}
	width := 0
	for _, b := range cat {
		width = max(width, len(b.Name))
	}
	for _, b := range cat {
		fmt.Fprintf(stdout, "%-*s  %s\n", width, b.Name, b.Description)
	}
	return 0
}
