package e2e

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/deploy/docker"
	"github.com/gauntlet-dev/gauntlet/gauntlettest"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/etcd"
)

// slowElectionMS is the raised election timeout: a follower stands for
// election after [8 s, 16 s) without its leader. The random packages held
// their faults for 5 s before timescales, and a cut of TCP links outlasts
// its heal by a retransmission or a redial (a second or two: at 6 s a
// follower sometimes timed out just after the heal), so at 8 s an
// undeclared run cannot elect by luck.
const slowElectionMS = 8000

// The timescale makes partitions long enough to matter. etcd with an 8 s
// election timeout declares it (targets/etcd: Timescale), so --nemesis
// partition holds each cut 2.5 timescales (20 s) and the leader it isolates
// (seed 1's first shape) is replaced. The same run with the timescale
// overridden to the old 1 s holds its cut for 5 s and elects nobody.
// etcd cannot be partitioned on the local deployment (its members share
// one peer map), so this runs on docker: about a minute, the two runs side
// by side, most of it the 20 s quiet and the 8–16 s the followers take to
// elect once the cut begins.
func TestTimescaleMakesPartitionsElect(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etcd in containers for 30 s: skipped with -short")
	}
	if err := docker.Available(t.Context()); err != nil {
		if os.Getenv(docker.RequireEnv) == "1" {
			t.Fatalf("%s=1 but Docker is not available: %v", docker.RequireEnv, err)
		}
		t.Skipf("Docker is not available (%v); set %s=1 to fail instead", err, docker.RequireEnv)
	}
	bin := buildEtcd(t, etcdUnder)
	run := func(t *testing.T, timescale time.Duration, limit int) (*harness.Results, []string) {
		res := gauntlettest.Run(t, harness.Test{
			System: "etcd", Deploy: "docker", Workload: "kv", Nemesis: []string{"partition"},
			Nodes: 3, Concurrency: 3, TimeLimit: seconds(limit), Seed: 1, Timescale: harness.Duration(timescale),
			Options: map[string]string{etcd.OptBinary: bin, etcd.OptElectionMS: strconv.Itoa(slowElectionMS)},
		})
		return res, leaderships(t, res)
	}
	t.Run("declared", func(t *testing.T) {
		t.Parallel()
		// The cut starts at 20 s; the followers elect 8–16 s later.
		res, leaders := run(t, 0, 37)
		assert.Equal(t, 8*time.Second, res.Test.Timescale.D(), "etcd declares its election timeout")
		assert.Equal(t, 20*time.Second, res.Test.NemesisInterval.D(), "2.5 timescales")
		assert.Greater(t, len(leaders), 1, "the isolated leader was replaced: %v", leaders)
	})
	t.Run("overridden", func(t *testing.T) {
		t.Parallel()
		// The cut starts at 5 s and is healed at 10 s.
		res, leaders := run(t, time.Second, 11)
		assert.Equal(t, 5*time.Second, res.Test.NemesisInterval.D())
		assert.Len(t, leaders, 1, "a 5 s cut is shorter than any election timeout: %v", leaders)
	})
}

// leaderships lists the node@term leaderships the election watch saw.
func leaderships(t *testing.T, res *harness.Results) []string {
	t.Helper()
	for _, c := range res.Checkers {
		if c.Checker != harness.ElectionChecker {
			continue
		}
		var d struct {
			Leaders []struct {
				Node string `json:"node"`
				Term uint64 `json:"term"`
			} `json:"leaders"`
		}
		require.NoError(t, json.Unmarshal(c.Details, &d))
		var out []string
		for _, l := range d.Leaders {
			if s := l.Node + "@" + strconv.FormatUint(l.Term, 10); !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	t.Fatal("no election-safety result")
	return nil
}
