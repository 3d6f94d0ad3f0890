package harness

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// electingSystem is a memSystem whose nodes, once the main phase has its
// clients, say they lead the terms in leads (node -> term); until then n1
// leads term 1, and the others follow n1.
type electingSystem struct {
	*memSystem
	leads    map[string]uint64
	declares bool
	main     atomic.Bool
}

func (s *electingSystem) NewClient(n Node) (Client, error) {
	s.main.Store(true)
	return s.memSystem.NewClient(n)
}

func (s *electingSystem) Status(ctx context.Context, n Node) (NodeStatus, error) {
	addr := n.ID
	if !s.main.Load() && addr == "n1" {
		return NodeStatus{ID: addr, Role: "leader", Term: 1, Leader: addr}, nil
	}
	if term, ok := s.leads[addr]; ok && s.main.Load() {
		return NodeStatus{ID: addr, Role: "leader", Term: term, Leader: addr}, nil
	}
	return NodeStatus{ID: addr, Role: "follower", Term: 1, Leader: "n1"}, nil
}
func (s *electingSystem) ReportsLeader() bool    { return true }
func (s *electingSystem) ReportsElections() bool { return s.declares }

func electionResult(t *testing.T, res *Results) *Result {
	t.Helper()
	for i := range res.Checkers {
		if res.Checkers[i].Checker == ElectionChecker {
			return &res.Checkers[i]
		}
	}
	return nil
}

func TestTwoLeadersOfOneTermEndTheRun(t *testing.T) {
	tst, p, mem, _, _ := testParts(t)
	p.System = &electingSystem{memSystem: mem, leads: map[string]uint64{"n1": 4, "n3": 4}, declares: true}
	tst.TimeLimit = Duration(longLimit)
	tst.StopOnViolation = true
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	assert.Less(t, res.TestTime.D(), longLimit, "the violation ends the main phase")
	assert.Equal(t, Invalid, res.Verdict)
	er := electionResult(t, res)
	require.NotNil(t, er)
	assert.Equal(t, Invalid, er.Validity)
	require.Len(t, er.Anomalies, 1)
	assert.Contains(t, er.Anomalies[0].Explanation, "n1 and n3 each said")
	assert.Contains(t, er.Anomalies[0].Explanation, "led term 4")
	require.NotNil(t, res.FirstViolation)
	assert.LessOrEqual(t, *res.FirstViolation, int64(res.TestTime), "found in the main phase it ended")
}

func TestOneLeaderAndSystemsThatDoNotDeclare(t *testing.T) {
	tst, p, mem, _, _ := testParts(t)
	p.System = &electingSystem{memSystem: mem, leads: map[string]uint64{"n1": 4}, declares: true}
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	er := electionResult(t, res)
	require.NotNil(t, er)
	assert.Equal(t, Valid, er.Validity, er.Summary)
	assert.Contains(t, er.Summary, "1 leaderships in 1 terms")

	// Two leaders of one term, but the system does not say its statuses
	// can show it: no election result.
	tst, p, mem, _, _ = testParts(t)
	p.System = &electingSystem{memSystem: mem, leads: map[string]uint64{"n1": 4, "n2": 4}}
	res, err = Run(context.Background(), tst, p)
	require.NoError(t, err)
	assert.Nil(t, electionResult(t, res))
	assert.Equal(t, Valid, res.Verdict)
}

func TestTwoLeadersAtBootAreAFindingNotAFailedSetup(t *testing.T) {
	tst, p, mem, _, _ := testParts(t)
	sys := &electingSystem{memSystem: mem, leads: map[string]uint64{"n1": 2, "n2": 2}, declares: true}
	sys.main.Store(true) // from the start: the cluster never agrees on a leader
	p.System = sys
	tst.StopOnViolation = true
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err, "a finding, not a run that could not be carried out")
	assert.Less(t, phaseTook(t, res, PhaseHealthy), healthyLimit, "the wait for health ends at the finding")
	assert.Equal(t, Invalid, res.Verdict)
	assert.Equal(t, ExitInvalid, res.ExitCode())
	er := electionResult(t, res)
	require.NotNil(t, er)
	require.Len(t, er.Anomalies, 1)
	assert.Contains(t, er.Anomalies[0].Explanation, "the main phase never began")
}

func TestElectionClaimsNeedTwoSamples(t *testing.T) {
	t0 := time.Now()
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	w := &electionWatch{streak: map[string]*leadership{}, claims: map[termOf][]*leadership{}}
	lead := func(term uint64) NodeStatus { return NodeStatus{Role: "leader", Term: term} }
	follow := NodeStatus{Role: "follower", Term: 5}
	w.see("n1", lead(5), ms(0))
	w.see("n1", lead(5), ms(100))
	w.see("n2", lead(5), ms(100)) // a status read in parts: once, not twice
	w.see("n2", follow, ms(200))
	w.see("n2", lead(5), ms(300)) // and again later, alone
	w.see("n2", follow, ms(400))
	w.see("n1", follow, ms(500)) // n1 steps down and leads term 5 again (two streaks, one node)
	w.see("n1", lead(5), ms(600))
	w.see("n1", lead(5), ms(700))
	w.see("n2", lead(6), ms(800))
	w.see("n2", lead(6), ms(900))
	res := w.result(t0, "")
	assert.Equal(t, Valid, res.Validity, res.Summary)
	assert.Contains(t, res.Summary, "3 leaderships in 2 terms")
	assert.False(t, w.violated())

	found := 0
	w.found = func() { found++ }
	w.see("n3", lead(6), ms(1000))
	w.see("n3", lead(6), ms(1100))
	w.see("n3", lead(6), ms(1200))
	w.see("n4", lead(6), ms(1300))
	w.see("n4", lead(6), ms(1400))
	res = w.result(t0, "")
	assert.Equal(t, Invalid, res.Validity)
	assert.True(t, w.violated())
	assert.Equal(t, 1, found, "called once, at the first violation")
	require.Len(t, res.Anomalies, 1)
	assert.EqualValues(t, 1100*time.Millisecond, res.Anomalies[0].Time, "when the term's second leader was confirmed")
	assert.Contains(t, res.Anomalies[0].Explanation, "n2 and n3 and n4 each said")
	assert.Contains(t, res.Anomalies[0].Explanation, "n3 from 1.00 s to 1.20 s (3 samples)")
}
