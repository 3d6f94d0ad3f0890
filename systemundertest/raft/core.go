package raft

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// core is the raft state machine: deterministic, single-threaded and free
// of I/O. Inputs are tick, step (a message), propose and readIndex; its
// outputs are collected by ready (hard state and entries to persist,
// messages to send after persisting, reads confirmed) and by toApply. The
// driver does the I/O; the Node runtime and the simulation both use it.
type core struct {
	id    string
	peers []string // every member, sorted, self included
	bug   string

	term   uint64
	vote   string
	role   role
	leader string

	// The log in memory: ents[0].Index == snapIndex+1. stabled is the last
	// index known durable; truncFrom > 0 asks the driver to delete the
	// durable suffix from there before appending.
	snapIndex, snapTerm uint64
	ents                []Entry
	stabled             uint64
	truncFrom           uint64
	installSnap         *Snapshot // received snapshot the driver must persist and restore

	commit, applied uint64

	electionTicks, heartbeatTicks int
	electionElapsed               int
	heartbeatElapsed              int
	randomizedTimeout             int
	rng                           *rand.Rand

	votes map[string]bool
	prs   map[string]*progress

	checkQuorum bool
	preVote     bool
	maxBatch    int
	maxInflight uint64

	msgs        []Message
	persistedHS HardState

	// ReadIndex: readSeq numbers heartbeat rounds; reads wait in
	// readsWaiting until a majority acked a round >= their ctx.
	readSeq      uint64
	readsNeedHB  bool
	readsWaiting []readReq // leadership not yet confirmed
	readsEarly   []uint64  // leader has not committed in its term yet
	readsReady   []readState
	readsDropped []uint64
}

type role uint8

const (
	follower role = iota
	candidate
	leader
	preCandidate
)

func (r role) String() string {
	return [...]string{"follower", "candidate", "leader", "pre-candidate"}[r]
}

type prState uint8

const (
	probe     prState = iota // one append at a time until the match is found
	replicate                // pipelined appends
	snapshot                 // a snapshot is on its way
)

type progress struct {
	match, next uint64
	state       prState
	paused      bool // probe: an append is in flight
	active      bool // heard from since the last CheckQuorum
	sinceResp   int  // ticks since the last append response
	snapWait    int  // heartbeat responses seen while in snapshot state
	readAck     uint64
}

type readReq struct {
	id, index, ctx uint64
}

type readState struct {
	id, index uint64
}

type coreConfig struct {
	id             string
	peers          []string
	bug            string
	electionTicks  int
	heartbeatTicks int
	maxBatch       int
	preVote        bool
	seed           int64
}

// newCore builds a core from durable state: hard state, latest snapshot
// (snapIndex/snapTerm, may be zero) and the log entries after it.
func newCore(cfg coreConfig, hs HardState, snapIndex, snapTerm uint64, ents []Entry) *core {
	peers := slices.Clone(cfg.peers)
	slices.Sort(peers)
	var h uint64 = 14695981039346656037
	for _, b := range []byte(cfg.id) {
		h = (h ^ uint64(b)) * 1099511628211
	}
	c := &core{
		id:             cfg.id,
		peers:          peers,
		bug:            cfg.bug,
		term:           hs.Term,
		vote:           hs.Vote,
		snapIndex:      snapIndex,
		snapTerm:       snapTerm,
		ents:           ents,
		commit:         snapIndex,
		applied:        snapIndex,
		electionTicks:  cfg.electionTicks,
		heartbeatTicks: cfg.heartbeatTicks,
		rng:            rand.New(rand.NewPCG(uint64(cfg.seed), h)),
		checkQuorum:    cfg.bug != BugLeaseNoBound,
		preVote:        cfg.preVote,
		maxBatch:       cfg.maxBatch,
		maxInflight:    uint64(cfg.maxBatch) * 64,
		persistedHS:    hs,
	}
	c.stabled = c.lastIndex()
	if cfg.bug == BugRestartCommitLog {
		c.commit = c.lastIndex() // the bug: a durable entry is taken for a committed one
	}
	c.becomeFollower(c.term, "")
	return c
}

func (c *core) quorum() int { return len(c.peers)/2 + 1 }

func (c *core) lastIndex() uint64 {
	if len(c.ents) == 0 {
		return c.snapIndex
	}
	return c.ents[len(c.ents)-1].Index
}

func (c *core) lastTerm() uint64 { t, _ := c.termAt(c.lastIndex()); return t }

// termAt returns the term of entry i; ok=false if i is compacted or beyond the log.
func (c *core) termAt(i uint64) (uint64, bool) {
	if i == c.snapIndex {
		return c.snapTerm, true
	}
	if i < c.snapIndex || i > c.lastIndex() {
		return 0, false
	}
	return c.ents[i-c.snapIndex-1].Term, true
}

func (c *core) entry(i uint64) Entry { return c.ents[i-c.snapIndex-1] }

// slice copies entries [lo, hi) so that messages never alias the log.
func (c *core) slice(lo, hi uint64) []Entry {
	if lo >= hi {
		return nil
	}
	return slices.Clone(c.ents[lo-c.snapIndex-1 : hi-c.snapIndex-1])
}

func (c *core) send(m Message) {
	m.From = c.id
	if m.Term == 0 {
		m.Term = c.term
	}
	c.msgs = append(c.msgs, m)
}

func (c *core) resetRandomizedTimeout() {
	c.randomizedTimeout = c.electionTicks + c.rng.IntN(c.electionTicks)
}

func (c *core) isMember(id string) bool {
	_, ok := slices.BinarySearch(c.peers, id)
	return ok
}

// --- role changes ---

func (c *core) becomeFollower(term uint64, lead string) {
	if term != c.term {
		c.term, c.vote = term, ""
	}
	if c.role == leader {
		c.dropReads()
	}
	c.role = follower
	c.leader = lead
	c.prs = nil
	c.votes = nil
	c.electionElapsed = 0
	c.resetRandomizedTimeout()
}

func (c *core) dropReads() {
	for _, r := range c.readsWaiting {
		c.readsDropped = append(c.readsDropped, r.id)
	}
	c.readsDropped = append(c.readsDropped, c.readsEarly...)
	for _, r := range c.readsReady {
		c.readsDropped = append(c.readsDropped, r.id)
	}
	c.readsWaiting, c.readsEarly, c.readsReady, c.readsNeedHB = nil, nil, nil, false
}

func (c *core) campaign() {
	c.becomeFollower(c.term+1, "")
	c.role = candidate
	c.vote = c.id
	c.votes = map[string]bool{c.id: true}
	if c.quorum() == 1 {
		c.becomeLeader()
		return
	}
	for _, p := range c.peers {
		if p != c.id {
			c.requestVote(p)
		}
	}
}

// preCampaign asks for pre-votes for the next term, changing nothing yet.
func (c *core) preCampaign() {
	c.becomeFollower(c.term, "")
	c.role = preCandidate
	c.votes = map[string]bool{c.id: true}
	if c.quorum() == 1 {
		c.campaign()
		return
	}
	for _, p := range c.peers {
		if p != c.id {
			c.requestVote(p)
		}
	}
}

func (c *core) requestVote(p string) {
	m := Message{Type: MsgVote, To: p, LastIndex: c.lastIndex(), LastTerm: c.lastTerm()}
	if c.role == preCandidate {
		m.Type, m.Term = MsgPreVote, c.term+1
	}
	c.send(m)
}

// inLease: this node heard from a leader (or is one) within an election
// timeout, so with CheckQuorum a live leader exists and a vote for someone
// else would only disrupt it.
func (c *core) inLease() bool {
	return c.checkQuorum && c.leader != "" && c.electionElapsed < c.electionTicks
}

func (c *core) becomeLeader() {
	c.role = leader
	c.leader = c.id
	c.votes = nil
	c.electionElapsed, c.heartbeatElapsed = 0, 0
	c.readSeq = 0
	c.prs = make(map[string]*progress, len(c.peers))
	for _, p := range c.peers {
		if p != c.id {
			c.prs[p] = &progress{next: c.lastIndex() + 1, active: true}
		}
	}
	// The no-op commits this term's first entry, and with it every earlier
	// one (§5.4.2); the commit-old-term bug skips it and counts replicas of
	// old entries instead.
	if c.bug != BugCommitOldTerm {
		c.appendEntries([]Entry{{Type: EntryNoop}})
	}
	c.bcastAppend()
}

// --- inputs ---

func (c *core) tick() {
	c.electionElapsed++
	if c.role != leader {
		switch {
		case c.electionElapsed >= c.randomizedTimeout && c.isMember(c.id):
			if c.preVote {
				c.preCampaign()
			} else {
				c.campaign()
			}
		case c.role == candidate || c.role == preCandidate:
			// Ask again whoever has not answered: a lost request
			// should not cost a whole election timeout.
			for _, p := range c.peers {
				if _, answered := c.votes[p]; !answered && p != c.id {
					c.requestVote(p)
				}
			}
		}
		return
	}
	if c.electionElapsed >= c.electionTicks {
		c.electionElapsed = 0
		if c.checkQuorum {
			n := 1
			for _, pr := range c.prs {
				if pr.active {
					n++
				}
				pr.active = false
			}
			if n < c.quorum() {
				c.becomeFollower(c.term, "")
				return
			}
		}
	}
	for _, p := range c.peers {
		if pr := c.prs[p]; pr != nil {
			pr.sinceResp++
			if pr.state == replicate && pr.match < c.lastIndex() && pr.sinceResp > 2*c.heartbeatTicks {
				// Appends went missing: find the match again.
				pr.state, pr.paused, pr.next, pr.sinceResp = probe, false, pr.match+1, 0
				c.sendAppend(p, true)
			}
		}
	}
	c.heartbeatElapsed++
	if c.heartbeatElapsed >= c.heartbeatTicks {
		c.heartbeatElapsed = 0
		c.bcastHeartbeat()
	}
}

// propose appends commands; ok=false if this node is not the leader.
func (c *core) propose(datas [][]byte) (first, term uint64, ok bool) {
	if c.role != leader {
		return 0, 0, false
	}
	ents := make([]Entry, len(datas))
	for i, d := range datas {
		ents[i] = Entry{Type: EntryCommand, Data: d}
	}
	first = c.lastIndex() + 1
	c.appendEntries(ents)
	c.bcastAppend()
	return first, c.term, true
}

func (c *core) appendEntries(ents []Entry) {
	last := c.lastIndex()
	for i := range ents {
		ents[i].Index = last + 1 + uint64(i)
		ents[i].Term = c.term
	}
	c.ents = append(c.ents, ents...)
}

// readIndex starts a linearizable read; ok=false if not the leader.
func (c *core) readIndex(id uint64) bool {
	if c.role != leader {
		return false
	}
	if c.bug == BugLeaseNoBound || c.quorum() == 1 {
		// The bug serves on the belief of leadership alone.
		c.readsReady = append(c.readsReady, readState{id: id, index: c.commit})
		return true
	}
	if !c.committedInTerm() && c.bug != BugReadBeforeTermCommit {
		c.readsEarly = append(c.readsEarly, id)
		return true
	}
	c.queueRead(id)
	return true
}

func (c *core) committedInTerm() bool {
	t, _ := c.termAt(c.commit)
	return t == c.term
}

func (c *core) queueRead(id uint64) {
	if !c.readsNeedHB {
		c.readsNeedHB = true
		c.readSeq++
	}
	c.readsWaiting = append(c.readsWaiting, readReq{id: id, index: c.commit, ctx: c.readSeq})
}

func (c *core) step(m Message) {
	if !c.isMember(m.From) || m.From == c.id {
		return
	}
	switch {
	case m.Term > c.term:
		if m.Type == MsgPreVote || (m.Type == MsgPreVoteResp && m.Granted) {
			break // a pre-vote changes no term; a grant carries the term asked for
		}
		if m.Type == MsgVote && c.inLease() {
			return
		}
		lead := ""
		if m.Type == MsgApp || m.Type == MsgHeartbeat || m.Type == MsgSnap {
			lead = m.From
		}
		c.becomeFollower(m.Term, lead)
	case m.Term < c.term:
		// Tell a stale leader or candidate about the newer term.
		switch m.Type {
		case MsgApp, MsgHeartbeat, MsgSnap:
			c.send(Message{Type: MsgAppResp, To: m.From})
		case MsgVote:
			c.send(Message{Type: MsgVoteResp, To: m.From})
		case MsgPreVote:
			c.send(Message{Type: MsgPreVoteResp, To: m.From})
		}
		return
	}
	switch m.Type {
	case MsgVote:
		c.handleVote(m)
	case MsgVoteResp:
		c.handleVoteResp(m)
	case MsgPreVote:
		c.handlePreVote(m)
	case MsgPreVoteResp:
		c.handlePreVoteResp(m)
	case MsgApp, MsgHeartbeat, MsgSnap:
		if c.role == leader {
			return // another leader in my term: impossible unless a bug allows it
		}
		if c.role == candidate || c.role == preCandidate {
			c.becomeFollower(c.term, m.From)
		}
		c.leader = m.From
		c.electionElapsed = 0
		switch m.Type {
		case MsgApp:
			c.handleApp(m)
		case MsgHeartbeat:
			c.commitTo(min(m.Commit, c.lastIndex()))
			c.send(Message{Type: MsgHeartbeatResp, To: m.From, Context: m.Context})
		case MsgSnap:
			c.handleSnap(m)
		}
	case MsgAppResp, MsgSnapResp:
		c.handleAppResp(m)
	case MsgHeartbeatResp:
		c.handleHeartbeatResp(m)
	}
}

func (c *core) handleVote(m Message) {
	canVote := c.vote == m.From || (c.vote == "" && c.leader == "")
	if c.bug == BugDoubleVote {
		canVote = c.vote == m.From || c.leader == "" // the bug: forgets whom it voted for
	}
	if canVote && c.upToDate(m) {
		c.vote = m.From
		c.electionElapsed = 0
		c.send(Message{Type: MsgVoteResp, To: m.From, Granted: true})
		return
	}
	c.send(Message{Type: MsgVoteResp, To: m.From})
}

func (c *core) upToDate(m Message) bool {
	if c.bug == BugVoteIgnoresIndex {
		return m.LastTerm >= c.lastTerm() // the bug: an equal last term is enough, whatever the length
	}
	return m.LastTerm > c.lastTerm() || (m.LastTerm == c.lastTerm() && m.LastIndex >= c.lastIndex())
}

// handlePreVote answers whether this node would vote for the sender in
// m.Term, without changing anything.
func (c *core) handlePreVote(m Message) {
	canVote := m.Term > c.term || c.vote == m.From || (c.vote == "" && c.leader == "")
	if canVote && !c.inLease() && c.upToDate(m) {
		c.send(Message{Type: MsgPreVoteResp, To: m.From, Term: m.Term, Granted: true})
		return
	}
	c.send(Message{Type: MsgPreVoteResp, To: m.From})
}

func (c *core) handlePreVoteResp(m Message) {
	if c.role != preCandidate || (m.Granted && m.Term != c.term+1) {
		return
	}
	c.votes[m.From] = m.Granted
	switch granted, rejected := c.tally(); {
	case granted >= c.quorum():
		c.campaign()
	case rejected >= c.quorum():
		c.becomeFollower(c.term, "")
	}
}

func (c *core) tally() (granted, rejected int) {
	for _, g := range c.votes {
		if g {
			granted++
		} else {
			rejected++
		}
	}
	return granted, rejected
}

func (c *core) handleVoteResp(m Message) {
	if c.role != candidate {
		return
	}
	c.votes[m.From] = m.Granted
	switch granted, rejected := c.tally(); {
	case granted >= c.quorum():
		c.becomeLeader()
	case rejected >= c.quorum():
		c.becomeFollower(c.term, "")
	}
}

func (c *core) matchTerm(i, t uint64) bool {
	tt, ok := c.termAt(i)
	return ok && tt == t
}

func (c *core) handleApp(m Message) {
	if m.PrevIndex < c.commit {
		c.send(Message{Type: MsgAppResp, To: m.From, Success: true, MatchIndex: c.commit})
		return
	}
	if !c.matchTerm(m.PrevIndex, m.PrevTerm) {
		c.send(Message{Type: MsgAppResp, To: m.From, PrevIndex: m.PrevIndex, RejectHint: c.rejectHint(m.PrevIndex)})
		return
	}
	for i, e := range m.Entries {
		if e.Index > c.lastIndex() {
			c.ents = append(c.ents, m.Entries[i:]...)
			break
		}
		if t, _ := c.termAt(e.Index); t != e.Term || c.bug == BugTruncateOnAppend {
			if e.Index <= c.commit {
				panic(fmt.Sprintf("raft %s: leader %s overwrites committed entry %d (commit %d)", c.id, m.From, e.Index, c.commit))
			}
			c.truncate(e.Index)
			c.ents = append(c.ents, m.Entries[i:]...)
			break
		}
	}
	lastNew := m.PrevIndex + uint64(len(m.Entries))
	c.commitTo(min(m.Commit, lastNew))
	c.send(Message{Type: MsgAppResp, To: m.From, Success: true, MatchIndex: lastNew})
}

// rejectHint is the highest index that may still match the leader: our last
// index if the log is short, else the last index before the conflicting
// term (skipping the whole term at once).
func (c *core) rejectHint(prev uint64) uint64 {
	if prev > c.lastIndex() {
		return c.lastIndex()
	}
	t, _ := c.termAt(prev)
	h := prev - 1
	for h > c.commit && h > c.snapIndex {
		if tt, _ := c.termAt(h); tt != t {
			break
		}
		h--
	}
	return h
}

func (c *core) truncate(from uint64) {
	c.ents = c.ents[:from-c.snapIndex-1]
	if from <= c.stabled {
		c.stabled = from - 1
		if c.truncFrom == 0 || from < c.truncFrom {
			c.truncFrom = from
		}
	}
}

func (c *core) commitTo(i uint64) {
	if i > c.commit {
		c.commit = i
	}
}

func (c *core) handleSnap(m Message) {
	s := m.Snapshot
	if s == nil {
		return
	}
	if s.Index <= c.commit {
		c.send(Message{Type: MsgSnapResp, To: m.From, Success: true, MatchIndex: c.commit})
		return
	}
	if c.matchTerm(s.Index, s.Term) {
		// We hold the entry already: fast-forward the commit instead.
		c.commitTo(s.Index)
		c.send(Message{Type: MsgSnapResp, To: m.From, Success: true, MatchIndex: s.Index})
		return
	}
	snap := *s
	c.installSnap = &snap
	c.snapIndex, c.snapTerm = s.Index, s.Term
	c.ents = nil
	// applied moves with it: the driver restores the FSM before it
	// applies or serves anything else (see driver.applyCommitted).
	c.commit, c.applied, c.stabled, c.truncFrom = s.Index, s.Index, s.Index, 0
	c.send(Message{Type: MsgSnapResp, To: m.From, Success: true, MatchIndex: s.Index})
}

// --- leader ---

func (c *core) bcastAppend() {
	for _, p := range c.peers {
		if p != c.id {
			c.sendAppend(p, true)
			for c.sendAppend(p, false) {
			}
		}
	}
}

// sendAppend sends the next batch of entries to p; empty lets it send an
// append with no entries (a probe or a commit update). It reports whether
// calling again could send more.
func (c *core) sendAppend(p string, empty bool) bool {
	pr := c.prs[p]
	if pr.state == snapshot || (pr.state == probe && pr.paused) {
		return false
	}
	prev := pr.next - 1
	if prev < c.snapIndex {
		// The entries it needs are compacted: the driver attaches the
		// latest snapshot.
		pr.state, pr.snapWait = snapshot, 0
		c.send(Message{Type: MsgSnap, To: p})
		return false
	}
	if pr.state == replicate && pr.next-1-pr.match >= c.maxInflight {
		return false
	}
	hi := min(c.lastIndex()+1, pr.next+uint64(c.maxBatch))
	if hi <= pr.next && !empty {
		return false
	}
	prevTerm, _ := c.termAt(prev)
	c.send(Message{Type: MsgApp, To: p, PrevIndex: prev, PrevTerm: prevTerm,
		Entries: c.slice(pr.next, hi), Commit: c.commit})
	if pr.state == probe {
		pr.paused = true
		return false
	}
	pr.next = max(pr.next, hi)
	return hi <= c.lastIndex()
}

func (c *core) bcastHeartbeat() {
	if c.readsNeedHB {
		c.readsNeedHB = false
	}
	for _, p := range c.peers {
		if p == c.id {
			continue
		}
		pr := c.prs[p]
		commit := min(pr.match, c.commit)
		if c.bug == BugHeartbeatCommit {
			commit = c.commit // the bug: the follower may hold a different entry at that index
		}
		c.send(Message{Type: MsgHeartbeat, To: p, Commit: commit, Context: c.readSeq})
	}
}

func (c *core) handleAppResp(m Message) {
	if c.role != leader {
		return
	}
	pr := c.prs[m.From]
	pr.active, pr.sinceResp = true, 0
	if !m.Success {
		if m.PrevIndex <= pr.match || (pr.state == probe && m.PrevIndex != pr.next-1) || pr.state == snapshot {
			return // stale
		}
		pr.next = max(pr.match+1, min(m.RejectHint+1, m.PrevIndex))
		pr.state, pr.paused = probe, false
		c.sendAppend(m.From, true)
		return
	}
	if m.MatchIndex > pr.match {
		pr.match = m.MatchIndex
		c.maybeCommit()
		if c.role != leader {
			return
		}
	}
	if pr.state == snapshot && pr.match < c.snapIndex {
		return // an old append's ack: the snapshot is still needed
	}
	pr.next = max(pr.next, pr.match+1)
	if pr.state != replicate {
		pr.state, pr.paused = replicate, false
		pr.next = pr.match + 1
	}
	for c.sendAppend(m.From, false) {
	}
}

func (c *core) handleHeartbeatResp(m Message) {
	if c.role != leader {
		return
	}
	pr := c.prs[m.From]
	pr.active = true
	if m.Context > pr.readAck {
		pr.readAck = m.Context
		c.confirmReads()
	}
	if pr.match >= c.lastIndex() {
		return
	}
	switch pr.state {
	case probe:
		pr.paused = false
		c.sendAppend(m.From, true)
	case snapshot:
		pr.snapWait++
		if pr.snapWait > c.electionTicks {
			pr.state, pr.paused, pr.next = probe, false, pr.match+1
			c.sendAppend(m.From, true)
		}
	}
}

// confirmReads releases reads whose heartbeat round a majority acked.
func (c *core) confirmReads() {
	acks := []uint64{^uint64(0)}
	for _, pr := range c.prs {
		acks = append(acks, pr.readAck)
	}
	slices.Sort(acks)
	slices.Reverse(acks)
	confirmed := acks[c.quorum()-1]
	if c.bug == BugReadQuorumOffByOne {
		confirmed = acks[c.quorum()-2] // the bug: counts itself twice
	}
	i := 0
	for ; i < len(c.readsWaiting) && c.readsWaiting[i].ctx <= confirmed; i++ {
		r := c.readsWaiting[i]
		c.readsReady = append(c.readsReady, readState{id: r.id, index: r.index})
	}
	c.readsWaiting = c.readsWaiting[i:]
}

func (c *core) maybeCommit() {
	if c.role != leader {
		return
	}
	m := []uint64{c.stabled}
	for _, pr := range c.prs {
		m = append(m, pr.match)
	}
	slices.Sort(m)
	slices.Reverse(m)
	q := m[c.quorum()-1]
	if q <= c.commit {
		return
	}
	if t, _ := c.termAt(q); t != c.term && c.bug != BugCommitOldTerm {
		return // §5.4.2: only entries of the current term commit by counting
	}
	wasInTerm := c.committedInTerm()
	c.commit = q
	if !wasInTerm && c.committedInTerm() {
		for _, id := range c.readsEarly {
			c.queueRead(id)
		}
		c.readsEarly = nil
	}
}

// --- driver interface ---

type ready struct {
	hs        *HardState
	snap      *Snapshot
	truncFrom uint64
	ents      []Entry
	msgs      []Message
}

// ready hands over what must be persisted, then sent.
func (c *core) ready() ready {
	if c.readsNeedHB && c.role == leader {
		c.bcastHeartbeat()
	}
	var rd ready
	if hs := (HardState{Term: c.term, Vote: c.vote}); hs != c.persistedHS {
		rd.hs = &hs
	}
	rd.snap, c.installSnap = c.installSnap, nil
	rd.truncFrom, c.truncFrom = c.truncFrom, 0
	rd.ents = c.slice(c.stabled+1, c.lastIndex()+1)
	rd.msgs, c.msgs = c.msgs, nil
	return rd
}

// persisted records that the hard state and the log up to last are durable.
func (c *core) persisted(hs HardState, last uint64) {
	c.persistedHS = hs
	c.stabled = min(last, c.lastIndex())
	c.maybeCommit()
}

// toApply returns up to max committed, durable entries not yet applied.
func (c *core) toApply(max int) []Entry {
	hi := min(c.commit, c.stabled)
	if hi <= c.applied {
		return nil
	}
	return c.slice(c.applied+1, min(hi+1, c.applied+1+uint64(max)))
}

func (c *core) appliedTo(i uint64) { c.applied = max(c.applied, i) }

// compact drops entries up to i (covered by a snapshot just saved).
func (c *core) compact(i uint64) {
	if i <= c.snapIndex || i > c.applied {
		return
	}
	t, _ := c.termAt(i)
	c.ents = slices.Clone(c.ents[i-c.snapIndex:])
	c.snapIndex, c.snapTerm = i, t
}

func (c *core) takeReads() (ready []readState, dropped []uint64) {
	ready, c.readsReady = c.readsReady, nil
	dropped, c.readsDropped = c.readsDropped, nil
	return ready, dropped
}

func (c *core) status() Status {
	r := c.role
	if r == preCandidate {
		r = candidate // the contract knows three roles
	}
	return Status{ID: c.id, Role: r.String(), Term: c.term, Leader: c.leader,
		Commit: c.commit, Applied: c.applied, LastLog: c.lastIndex(), Snapshot: c.snapIndex}
}
