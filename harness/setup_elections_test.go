package harness

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bucketSystem is a product whose leader changes meaning at setup, as a
// NATS JetStream KV bucket's does: before Setup, n1 leads the cluster in
// term 1; Setup creates a bucket with a raft group of its own, and from
// then on the statuses name the bucket's leader, n2, also in term 1 (its
// terms count from its own beginning). While Setup runs, statuses are
// garbage: n3 says it leads term 1 too.
type bucketSystem struct {
	*memSystem
	declares bool // ElectsAtSetup
	double   bool // after setup, n3 also says it leads the bucket's term 1
	first    atomic.Int64
	phase    atomic.Int32 // 0 before setup, 1 in it, 2 after
}

func (s *bucketSystem) Status(_ context.Context, n Node) (NodeStatus, error) {
	now := time.Now().UnixNano()
	s.first.CompareAndSwap(0, now)
	leader := func(term uint64) (NodeStatus, error) {
		return NodeStatus{ID: n.ID, Role: "leader", Term: term, Leader: n.ID}, nil
	}
	follow := func(l string) (NodeStatus, error) {
		return NodeStatus{ID: n.ID, Role: "follower", Term: 1, Leader: l}, nil
	}
	switch s.phase.Load() {
	case 0:
		if n.ID == "n1" {
			return leader(1)
		}
		if time.Duration(now-s.first.Load()) < 400*time.Millisecond {
			return follow("") // the followers learn of n1 a moment later: n1's claim is confirmed before setup
		}
		return follow("n1")
	case 1:
		if n.ID == "n3" {
			return leader(1)
		}
		return follow("")
	}
	if n.ID == "n2" || (s.double && n.ID == "n3") {
		return leader(1)
	}
	return follow("n2")
}

func (s *bucketSystem) Setup(context.Context, SetupEnv) error {
	s.phase.Store(1)
	time.Sleep(400 * time.Millisecond) // creates the bucket, retrying until its group elects
	s.phase.Store(2)
	return nil
}
func (s *bucketSystem) ReportsLeader() bool    { return true }
func (s *bucketSystem) ReportsElections() bool { return true }
func (s *bucketSystem) ElectsAtSetup() bool    { return s.declares }

func runBucket(t *testing.T, sys *bucketSystem, stop bool) (*Results, *Result) {
	t.Helper()
	tst, p, mem, _, _ := testParts(t)
	sys.memSystem = mem
	p.System = sys
	tst.TimeLimit = Duration(time.Second)
	tst.StopOnViolation = stop
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	er := electionResult(t, res)
	require.NotNil(t, er)
	return res, er
}

// A system that says its leader changes meaning at setup is judged per
// election: n1 leading the cluster's term 1 and n2 the bucket's term 1 is
// no violation, and the garbage sampled during setup is not judged.
func TestLeaderThatChangesMeaningAtSetupIsNoViolation(t *testing.T) {
	res, er := runBucket(t, &bucketSystem{declares: true}, false)
	assert.Equal(t, Valid, er.Validity, er.Summary)
	assert.Equal(t, Valid, res.Verdict)
	assert.Contains(t, er.Summary, "1 in 1 terms before setup, 1 in 1 after")
	assert.Contains(t, string(er.Details), `"election":"before-setup"`)
	assert.Contains(t, string(er.Details), `"election":"after-setup"`)

	// Undeclared, the same statuses are two leaders of term 1: why the
	// declaration exists.
	_, er = runBucket(t, &bucketSystem{}, false)
	assert.Equal(t, Invalid, er.Validity)
}

// The declaration hides nothing within one election: two leaders of the
// bucket's term 1 are caught, and end the run at once with
// --stop-on-violation (the wait for the bucket's leader included).
func TestTwoLeadersAfterSetupAreStillCaught(t *testing.T) {
	res, er := runBucket(t, &bucketSystem{declares: true, double: true}, true)
	assert.Less(t, phaseTook(t, res, PhaseSystem), healthyLimit, "the finding ends the wait for the bucket's leader")
	assert.Equal(t, Invalid, er.Validity)
	assert.Equal(t, Invalid, res.Verdict)
	require.Len(t, er.Anomalies, 1)
	assert.Contains(t, er.Anomalies[0].Explanation, "n2 and n3 each said")
	assert.Contains(t, er.Anomalies[0].Explanation, "term 1 of the election after setup")
}
