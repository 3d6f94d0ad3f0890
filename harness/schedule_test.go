package harness

import (
	"context"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// steeredNemesis is a paced, steered partition that keeps what it was shown.
type steeredNemesis struct {
	partitionNemesis
	mu   sync.Mutex
	seen []Observation
}

func (n *steeredNemesis) Name() string { return "steered" }
func (n *steeredNemesis) Pace(*rand.Rand) (time.Duration, time.Duration) {
	return 20 * time.Millisecond, 20 * time.Millisecond
}
func (n *steeredNemesis) Steer(o Observation, _ *rand.Rand) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seen = append(n.seen, o)
}
func (n *steeredNemesis) Plan() (string, []Choice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var cs []Choice
	for _, o := range n.seen {
		cs = append(cs, Choice{At: Duration(o.At), Package: "partition", Reason: "test"})
	}
	return "steered:plan", cs
}

// leaderAimed requires a leader the system reports.
type leaderAimed struct{ partitionNemesis }

func (leaderAimed) Name() string      { return "leader-aimed" }
func (leaderAimed) Requires() []Fault { return []Fault{FaultPartition, FaultLeader} }

func TestLeaderAimedPackageRefusesALeaderlessSystem(t *testing.T) {
	tst, p, _, dep, _ := testParts(t)
	p.Nemeses = []Nemesis{leaderAimed{}}
	_, err := Run(context.Background(), tst, p)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, err.Error(), `nemesis "leader-aimed" aims at the leader, but mem does not report one`)
	assert.Nil(t, dep.cluster, "nothing was deployed")
}

func TestSteeredScheduleIsPacedObservedAndRecorded(t *testing.T) {
	tst, p, _, _, _ := testParts(t)
	// An interval no run waits out: every fault comes from the package's
	// own rhythm (a 1 s warm-up, then 40 ms cycles).
	tst.NemesisInterval = Duration(longLimit)
	tst.TimeLimit = Duration(longLimit)
	n := &steeredNemesis{}
	p.Nemeses = []Nemesis{n}
	p.Watch = func(Op) bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return len(n.seen) > 5
	}
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	require.Equal(t, Valid, res.Verdict)
	require.Less(t, res.TestTime.D(), longLimit, "a paced package sets its own rhythm")
	n.mu.Lock()
	seen := n.seen
	n.mu.Unlock()
	require.Greater(t, len(seen), 5)
	assert.True(t, seen[0].Supported[FaultPartition])
	assert.False(t, seen[0].ReportsLeader, "the mem system reports no leader")
	ops := 0
	for _, o := range seen {
		ops += o.Ops
	}
	assert.Positive(t, ops, "the observer reads the client ops from the history")

	b, err := os.ReadFile(filepath.Join(runDir(t, tst.Out), ScheduleFile))
	require.NoError(t, err)
	var recs []struct {
		Replay  string   `json:"replay"`
		Choices []Choice `json:"choices"`
	}
	require.NoError(t, json.Unmarshal(b, &recs))
	require.Len(t, recs, 1)
	assert.Len(t, recs[0].Choices, len(seen))
	specs, err := ReplaySpec(runDir(t, tst.Out))
	require.NoError(t, err)
	assert.Equal(t, []string{"steered:plan"}, specs)
}
