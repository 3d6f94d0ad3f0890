package harness

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMajorityLeader(t *testing.T) {
	ids := []string{"n1", "n2", "n3", "n4", "n5"}
	down := errors.New("down")
	st := func(role, leader string) NodeStatus { return NodeStatus{Role: role, Leader: leader} }
	l, err := majorityLeader(ids,
		[]NodeStatus{st("follower", "n2"), st("leader", "n2"), st("follower", "n2"), st("follower", "n1"), {}},
		[]error{nil, nil, nil, nil, down})
	require.NoError(t, err)
	assert.Equal(t, "n2", l)

	// Two say n2, one (a stale minority leader) says n4: no majority.
	_, err = majorityLeader(ids,
		[]NodeStatus{st("follower", "n2"), st("leader", "n2"), {}, st("leader", "n4"), {}},
		[]error{nil, nil, down, nil, down})
	assert.Error(t, err)

	// Followers name n1, but n1 answers that it does not lead.
	_, err = majorityLeader(ids,
		[]NodeStatus{st("candidate", ""), st("follower", "n1"), st("follower", "n1"), st("follower", "n1"), {}},
		[]error{nil, nil, nil, nil, down})
	assert.Error(t, err)
}

func TestHealthProblem(t *testing.T) {
	ids := []string{"n1", "n2"}
	st := func(role, leader string) NodeStatus { return NodeStatus{Role: role, Leader: leader} }
	ok := []error{nil, nil}
	assert.NoError(t, healthProblem(ids, []NodeStatus{st("replica", ""), st("replica", "")}, ok, false))
	assert.NoError(t, healthProblem(ids, []NodeStatus{st("leader", ""), st("follower", "n1")}, ok, true))
	assert.ErrorContains(t, healthProblem(ids, []NodeStatus{st("follower", ""), st("follower", "")}, ok, true), "no agreed leader")
	assert.ErrorContains(t, healthProblem(ids, []NodeStatus{st("leader", ""), st("leader", "")}, ok, true), "no agreed leader")
	assert.ErrorContains(t, healthProblem(ids, []NodeStatus{{}, {}}, []error{nil, errors.New("refused")}, false), "n2: refused")
	// A leaderless system is healthy whatever its nodes say of leaders.
	assert.NoError(t, healthProblem(ids, []NodeStatus{st("follower", ""), st("follower", "")}, ok, false))
}
