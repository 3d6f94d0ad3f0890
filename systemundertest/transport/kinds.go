package transport

import (
	"bytes"
	"slices"

	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

// Kinds names the raft messages that begin in one write a node made to a
// peer: the start of a POST to Path (its request line, headers and as much
// of the batch as the write holds). A simulated network uses it to aim
// faults at a kind of message; a write that is not such a start names
// nothing.
func Kinds(segment []byte) []string {
	rest, ok := bytes.CutPrefix(segment, []byte("POST "+Path+" "))
	if !ok {
		return nil
	}
	_, body, ok := bytes.Cut(rest, []byte("\r\n\r\n"))
	if !ok {
		return nil
	}
	d := &decoder{b: body}
	if v := d.byte(); d.err != nil || v != codecVersion {
		return nil
	}
	n := d.count(4)
	var kinds []string
	for i := 0; i < n && d.err == nil; i++ {
		var m raft.Message
		d.message(&m)
		if d.err != nil {
			break // the batch goes on in a later write
		}
		if k := Kind(m); !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

// Kind names one message: its type, and for answers whether they agree.
func Kind(m raft.Message) string {
	switch m.Type {
	case raft.MsgVote:
		return "vote"
	case raft.MsgVoteResp:
		return yesNo("vote-granted", "vote-denied", m.Granted)
	case raft.MsgPreVote:
		return "prevote"
	case raft.MsgPreVoteResp:
		return yesNo("prevote-granted", "prevote-denied", m.Granted)
	case raft.MsgApp:
		return "append"
	case raft.MsgAppResp:
		return yesNo("append-ok", "append-rejected", m.Success)
	case raft.MsgHeartbeat:
		return "heartbeat"
	case raft.MsgHeartbeatResp:
		return "heartbeat-resp"
	case raft.MsgSnap:
		return "snapshot"
	case raft.MsgSnapResp:
		return "snapshot-resp"
	}
	return "unknown"
}

func yesNo(yes, no string, ok bool) string {
	if ok {
		return yes
	}
	return no
}
