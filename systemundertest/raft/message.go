package raft

// EntryType distinguishes commands from raft's own entries.
type EntryType uint8

const (
	EntryCommand EntryType = iota // data for the FSM
	EntryNoop                     // appended by a new leader to commit its term
)

// Entry is one log entry.
type Entry struct {
	Index uint64    `json:"i"`
	Term  uint64    `json:"t"`
	Type  EntryType `json:"y,omitempty"`
	Data  []byte    `json:"d,omitempty"`
}

// MsgType is the kind of a raft message.
type MsgType uint8

const (
	MsgVote MsgType = iota + 1
	MsgVoteResp
	MsgApp
	MsgAppResp
	MsgSnap
	MsgSnapResp
	MsgHeartbeat
	MsgHeartbeatResp
	// Pre-vote (Raft thesis §9.6): a would-be candidate first asks whether it
	// could win, without raising any term, so that a node cut off by a
	// partition does not disrupt the cluster when it comes back. The request
	// carries the term the candidate would campaign in.
	MsgPreVote
	MsgPreVoteResp
)

// Message is everything raft nodes say to each other. It is plain data
// (JSON-encodable) so any Transport can carry it. Fields are added, never
// renamed, so mixed versions in one cluster still talk.
type Message struct {
	Type MsgType `json:"type"`
	From string  `json:"from"`
	To   string  `json:"to"`
	Term uint64  `json:"term"`

	// Vote request: the candidate's last log entry.
	LastIndex uint64 `json:"last_index,omitempty"`
	LastTerm  uint64 `json:"last_term,omitempty"`
	Granted   bool   `json:"granted,omitempty"`

	// Append / heartbeat.
	PrevIndex uint64  `json:"prev_index,omitempty"`
	PrevTerm  uint64  `json:"prev_term,omitempty"`
	Entries   []Entry `json:"entries,omitempty"`
	Commit    uint64  `json:"commit,omitempty"`

	// Responses: Success, the follower's match index, or a hint where to retry.
	Success    bool   `json:"success,omitempty"`
	MatchIndex uint64 `json:"match_index,omitempty"`
	RejectHint uint64 `json:"reject_hint,omitempty"`

	// Context ties heartbeat responses to ReadIndex requests.
	Context uint64 `json:"context,omitempty"`

	Snapshot *Snapshot `json:"snapshot,omitempty"`
}
