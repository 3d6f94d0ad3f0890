package kvnode

import (
	"fmt"
	"io"
	"strings"

	"github.com/gauntlet-dev/gauntlet/systemundertest/quorum"
)

// bugInfo is one entry of a mode's bug catalog.
type bugInfo struct {
	Name        string
	Description string
}

// bugCatalog returns the catalog of mode; known=false when the mode does not
// publish one (then --bug is passed through unchecked).
func bugCatalog(mode string) (cat []bugInfo, known bool) {
	switch mode {
	case "raft":
		return raftBugs(), true
	case "quorum":
		for _, b := range quorum.Bugs() {
			cat = append(cat, bugInfo{Name: b.Name, Description: b.Description})
		}
		return cat, true
	default:
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
