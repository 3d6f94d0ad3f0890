package raft

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// The simulation runs a cluster of drivers (the real core, persistence
// order and apply path, without goroutines) on a simulated clock and
// network, from one seed: messages are delayed, reordered, dropped and
// duplicated; links are cut into partitions; nodes crash (losing everything
// but their in-memory "disk") and restart; clients propose and read all
// the while. After every step it checks:
//   - election safety: at most one leader per term, and its root: a node
//     votes for at most one candidate per term, across restarts;
//   - leader completeness: a new leader holds every entry anyone applied;
//   - state-machine safety: no two nodes apply different entries at an index;
//   - log matching: two logs with an entry of the same index and term agree
//     on everything up to it;
//   - linearizable reads: a read served on a node reflects every entry known
//     committed anywhere when the read began;
//
// and at the end, after healing everything, that the cluster makes progress
// again and every acknowledged proposal is in every node's state machine.

const (
	simTick     = 10   // ms per raft tick
	simDuration = 4000 // ms of faults and load
	simSettle   = 4000 // ms after healing to converge
)

type simOpts struct {
	nodes int
	bug   string
}

// simViolation is what the simulation found.
type simViolation struct {
	bug  string
	seed int64
	step int
	at   int64
	msg  string
}

func (v *simViolation) Error() string {
	bug := ""
	if v.bug != "" {
		bug = " -simbug " + v.bug
	}
	return fmt.Sprintf("seed %d, step %d, t=%dms: %s\nreproduce: go test ./systemundertest/raft -run 'TestSim$' -seed %d%s -v",
		v.seed, v.step, v.at, v.msg, v.seed, bug)
}

type simFSM struct{ ids []uint64 }

func (f *simFSM) Apply(index uint64, data []byte) any {
	f.ids = append(f.ids, binary.BigEndian.Uint64(data))
	return index
}

func (f *simFSM) Snapshot() ([]byte, error) {
	b := make([]byte, 8*len(f.ids))
	for i, id := range f.ids {
		binary.BigEndian.PutUint64(b[8*i:], id)
	}
	return b, nil
}

func (f *simFSM) Restore(b []byte) error {
	f.ids = make([]uint64, len(b)/8)
	for i := range f.ids {
		f.ids[i] = binary.BigEndian.Uint64(b[8*i:])
	}
	return nil
}

// simDisk makes a node's stores fail at the k-th write from now, as a
// crash in the middle of persisting would: a batch append keeps a random
// prefix of its entries (a torn tail repaired on restart); every other write
// happens entirely or not at all.
type simDisk struct {
	failIn int // writes until the crash; 0 = disarmed
	rng    *rand.Rand
}

var errSimCrash = errors.New("simulated crash")

func (d *simDisk) write() bool {
	if d.failIn == 0 {
		return false
	}
	d.failIn--
	return d.failIn == 0
}

type simLog struct {
	*InmemLog
	disk *simDisk
}

func (l simLog) Append(ents []Entry) error {
	if l.disk.write() {
		_ = l.InmemLog.Append(ents[:l.disk.rng.IntN(len(ents)+1)])
		return errSimCrash
	}
	return l.InmemLog.Append(ents)
}

func (l simLog) TruncateSuffix(from uint64) error {
	if l.disk.write() {
		return errSimCrash
	}
	return l.InmemLog.TruncateSuffix(from)
}

func (l simLog) TruncatePrefix(upto uint64) error {
	if l.disk.write() {
		return errSimCrash
	}
	return l.InmemLog.TruncatePrefix(upto)
}

type simStable struct {
	*InmemStable
	disk *simDisk
}

func (s simStable) SetHardState(hs HardState) error {
	if s.disk.write() {
		return errSimCrash
	}
	return s.InmemStable.SetHardState(hs)
}

type simSnaps struct {
	*InmemSnapshots
	disk *simDisk
}

func (s simSnaps) Save(snap Snapshot) error {
	if s.disk.write() {
		return errSimCrash
	}
	return s.InmemSnapshots.Save(snap)
}

type simNode struct {
	id     string
	up     bool
	d      *driver
	fsm    *simFSM
	disk   *simDisk
	log    *InmemLog
	hs     *InmemStable
	snaps  *InmemSnapshots
	role   role
	term   uint64
	commit uint64
	inc    int // incarnation: bumped by every crash
}

type simEvent struct {
	at   int64
	seq  uint64
	kind int
	node int
	msg  Message
	inc  int // the sender's incarnation
}

const (
	evTick = iota
	evMsg
	evClient
	evFault
	evRestart
	evIsolate
)

type eventQueue []simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || (q[i].at == q[j].at && q[i].seq < q[j].seq)
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simStats shows that a run exercised what it claims to check.
type simStats struct {
	acked, reads, elections, crashes, tornWrites, snapsSent, steps int
}

func (a *simStats) add(b simStats) {
	a.acked += b.acked
	a.reads += b.reads
	a.elections += b.elections
	a.crashes += b.crashes
	a.tornWrites += b.tornWrites
	a.snapsSent += b.snapsSent
	a.steps += b.steps
}

type propTok struct{ id uint64 }

type voteKey struct {
	voter string
	term  uint64
}
type readTok struct {
	node      int
	minCommit uint64
	start     int64
}

type sim struct {
	seed  int64
	opts  simOpts
	rng   *rand.Rand
	now   int64
	seq   uint64
	step  int
	q     eventQueue
	nodes []*simNode
	ids   []string
	cut   map[[2]int]bool
	trace func(string, ...any)

	// Fault profile, drawn from the seed.
	dropRate, dupRate, slowRate float64
	crashRate                   float64
	snapThreshold               uint64
	maxBatch                    int
	clientGap                   int // ms between client requests, at most
	faultGap                    int // ms between faults, at most
	leaderHunt                  float64
	noPreVote                   bool

	nextID    uint64
	acked     map[uint64]uint64  // id -> index
	applied   map[uint64]Entry   // index -> the entry applied there
	leaders   map[uint64]string  // term -> leader
	votes     map[voteKey]string // (voter, term) -> candidate
	maxCommit uint64
	faulting  bool
	violation *simViolation
	onSend    func(Message)
	stats     simStats
	onProcess func(c *core, commitBefore uint64)
}

func newSim(seed int64, opts simOpts) *sim {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	s := &sim{
		seed: seed, opts: opts, rng: rng, cut: map[[2]int]bool{},
		acked: map[uint64]uint64{}, votes: map[voteKey]string{}, applied: map[uint64]Entry{}, leaders: map[uint64]string{},
		dropRate:      []float64{0, 0.02, 0.1}[rng.IntN(3)],
		dupRate:       []float64{0, 0.02}[rng.IntN(2)],
		slowRate:      []float64{0.01, 0.05, 0.2}[rng.IntN(3)],
		crashRate:     []float64{0, 0.05, 0.2}[rng.IntN(3)],
		snapThreshold: uint64(10 + rng.IntN(100)),
		maxBatch:      1 + rng.IntN(16),
		clientGap:     []int{6, 6, 60}[rng.IntN(3)],
		faultGap:      []int{300, 300, 80}[rng.IntN(3)],
		leaderHunt:    []float64{0, 0.3, 0.7}[rng.IntN(3)],
		noPreVote:     rng.IntN(3) == 0,
		faulting:      true,
		trace:         func(string, ...any) {},
	}
	for i := range opts.nodes {
		s.ids = append(s.ids, fmt.Sprintf("n%d", i+1))
	}
	for i, id := range s.ids {
		n := &simNode{id: id, log: NewInmemLog(), hs: &InmemStable{}, snaps: &InmemSnapshots{},
			disk: &simDisk{rng: rng}}
		s.nodes = append(s.nodes, n)
		s.restart(i)
		s.push(simEvent{at: int64(rng.IntN(simTick)), kind: evTick, node: i})
	}
	s.push(simEvent{at: 1, kind: evClient})
	s.push(simEvent{at: 100 + int64(rng.IntN(200)), kind: evFault})
	return s
}

func (s *sim) push(e simEvent) {
	s.seq++
	e.seq = s.seq
	heap.Push(&s.q, e)
}

func (s *sim) fail(format string, args ...any) {
	if s.violation == nil {
		s.violation = &simViolation{bug: s.opts.bug, seed: s.seed, step: s.step, at: s.now, msg: fmt.Sprintf(format, args...)}
	}
}

func (s *sim) restart(i int) {
	n := s.nodes[i]
	n.fsm = &simFSM{}
	d, err := newDriver(Config{
		ID: n.id, Peers: s.ids, FSM: n.fsm,
		Log: simLog{n.log, n.disk}, Stable: simStable{n.hs, n.disk}, Snapshots: simSnaps{n.snaps, n.disk},
		ElectionTimeout: 10 * simTick * time.Millisecond, HeartbeatInterval: simTick * time.Millisecond,
		SnapshotThreshold: s.snapThreshold, MaxBatch: s.maxBatch,
		Seed: s.seed + int64(s.step), Bug: s.opts.bug, DisablePreVote: s.noPreVote,
	})
	if err != nil {
		s.fail("restart %s: %v", n.id, err)
		return
	}
	d.onApply = func(e Entry) { s.onApply(i, e) }
	d.sendEarly = func(m Message) { s.send(i, m) }
	n.d, n.up = d, true
	n.role, n.term, n.commit = d.c.role, d.c.term, d.c.commit
	s.trace("restart %s term=%d last=%d snap=%d", n.id, d.c.term, d.c.lastIndex(), d.c.snapIndex)
}

func (s *sim) crash(i int, restartAfter int64) {
	n := s.nodes[i]
	if !n.up {
		return
	}
	n.up, n.d = false, nil
	n.inc++ // its transport queue dies with it: messages not yet delivered are lost
	s.stats.crashes++
	s.trace("crash %s", n.id)
	s.push(simEvent{at: s.now + restartAfter, kind: evRestart, node: i})
}

func (s *sim) onApply(i int, e Entry) {
	if prev, ok := s.applied[e.Index]; ok {
		if prev.Term != e.Term || prev.Type != e.Type || string(prev.Data) != string(e.Data) {
			s.fail("state-machine safety: %s applied %s at index %d, but %s was applied there before",
				s.ids[i], fmtEntry(e), e.Index, fmtEntry(prev))
		}
		return
	}
	s.applied[e.Index] = e
}

func fmtEntry(e Entry) string {
	if e.Type == EntryNoop {
		return fmt.Sprintf("{i=%d t=%d noop}", e.Index, e.Term)
	}
	return fmt.Sprintf("{i=%d t=%d id=%d}", e.Index, e.Term, binary.BigEndian.Uint64(e.Data))
}

// process runs node i's driver and routes its output.
func (s *sim) process(i int) {
	n := s.nodes[i]
	wroteHS := n.d.c.persistedHS != HardState{Term: n.d.c.term, Vote: n.d.c.vote}
	commitBefore := n.commit // since the last process: steps advance it too
	if s.faulting && s.rng.Float64() < s.crashRate/20 {
		n.disk.failIn = 1 + s.rng.IntN(3) // crash in the middle of persisting
	}
	defer func() { n.disk.failIn = 0 }()
	early, err := n.d.applyCommitted()
	if s.crashed(i, err) {
		return
	}
	s.complete(i, early) // the Node replies to these before its next fsync
	msgs, done, err := n.d.process()
	if s.crashed(i, err) {
		return
	}
	c := n.d.c
	s.maxCommit = max(s.maxCommit, c.commit)
	for _, m := range msgs {
		s.send(i, m)
	}
	s.complete(i, done)
	if c.role == leader && (n.role != leader || n.term != c.term) {
		s.trace("%s leads term %d (last=%d commit=%d)", n.id, c.term, c.lastIndex(), c.commit)
		if other, ok := s.leaders[c.term]; ok && other != n.id {
			s.fail("election safety: %s and %s both lead term %d", other, n.id, c.term)
		}
		s.leaders[c.term] = n.id
		s.stats.elections++
		if s.faulting && s.rng.Float64() < s.leaderHunt {
			// The nemesis hunts fresh leaders: cut one off before it
			// has replicated much (stranding what it appends).
			s.push(simEvent{at: s.now + int64(s.rng.IntN(20)), kind: evIsolate, node: i})
		}
		s.checkLeaderCompleteness(i)
	}
	n.role, n.term, n.commit = c.role, c.term, c.commit
	if s.onProcess != nil {
		s.onProcess(c, commitBefore)
	}
	// Crash points at the moments where what was persisted, and what was
	// not yet sent, matter most: right after the hard state was fsynced
	// (a vote), and right after a leader advanced its commit index. The
	// node restarts soon, as under a supervisor.
	if s.faulting && (wroteHS || (c.role == leader && c.commit > commitBefore)) && s.rng.Float64() < s.crashRate {
		s.crash(i, 1+int64(s.rng.IntN(20)))
	}
}

// crashed handles an error from node i's driver: a simulated crash in the
// middle of a write takes the node down; anything else is a failure.
func (s *sim) crashed(i int, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, errSimCrash):
		s.trace("%s crashed mid-write: %v", s.ids[i], err)
		s.stats.tornWrites++
		s.crash(i, 1+int64(s.rng.IntN(20)))
	default:
		s.fail("%s: %v", s.ids[i], err)
	}
	return true
}

// complete records what node i answered its clients.
func (s *sim) complete(i int, done []completion) {
	c := s.nodes[i].d.c
	for _, cp := range done {
		switch tok := cp.tok.(type) {
		case propTok:
			if cp.err == nil {
				var idx uint64
				if r, ok := cp.res.(uint64); ok {
					idx = r
				}
				s.acked[tok.id] = idx
				s.stats.acked++
			}
		case readTok:
			if cp.err == nil {
				s.stats.reads++
			}
			if cp.err == nil && c.applied < tok.minCommit {
				s.fail("linearizable read: %s served a read begun at t=%dms at applied index %d, "+
					"but index %d was committed before it began", c.id, tok.start, c.applied, tok.minCommit)
			}
		}
	}
}

func (s *sim) checkLeaderCompleteness(i int) {
	c := s.nodes[i].d.c
	// In index order, so that a failing seed reports the same entry every time.
	idxs := make([]uint64, 0, len(s.applied))
	for idx := range s.applied {
		idxs = append(idxs, idx)
	}
	slices.Sort(idxs)
	for _, idx := range idxs {
		e := s.applied[idx]
		if idx <= c.snapIndex {
			continue
		}
		if idx > c.lastIndex() {
			s.fail("leader completeness: %s leads term %d without applied entry %s (last index %d)",
				c.id, c.term, fmtEntry(e), c.lastIndex())
			return
		}
		if got := c.entry(idx); got.Term != e.Term || string(got.Data) != string(e.Data) {
			s.fail("leader completeness: %s leads term %d with %s where %s was applied",
				c.id, c.term, fmtEntry(got), fmtEntry(e))
			return
		}
	}
}

func (s *sim) checkLogMatching() {
	for a := range s.nodes {
		for b := a + 1; b < len(s.nodes); b++ {
			na, nb := s.nodes[a], s.nodes[b]
			if !na.up || !nb.up {
				continue
			}
			ca, cb := na.d.c, nb.d.c
			lo := max(ca.snapIndex, cb.snapIndex) + 1
			hi := min(ca.lastIndex(), cb.lastIndex())
			agree := false
			for i := hi; i >= lo; i-- {
				ea, eb := ca.entry(i), cb.entry(i)
				if !agree && ea.Term == eb.Term {
					agree = true
				}
				if agree && (ea.Term != eb.Term || ea.Type != eb.Type || string(ea.Data) != string(eb.Data)) {
					s.fail("log matching: %s and %s agree on the term at a later index but differ at %d: %s vs %s",
						ca.id, cb.id, i, fmtEntry(ea), fmtEntry(eb))
					return
				}
			}
		}
	}
}

// checkVote asserts that a node votes for at most one candidate per term,
// across restarts: a candidate's request is its vote for itself, a granted
// response a vote for the requester.
func (s *sim) checkVote(m Message) {
	var k voteKey
	var cand string
	switch {
	case m.Type == MsgVote:
		k, cand = voteKey{m.From, m.Term}, m.From
	case m.Type == MsgVoteResp && m.Granted:
		k, cand = voteKey{m.From, m.Term}, m.To
	default:
		return
	}
	if prev, ok := s.votes[k]; ok && prev != cand {
		s.fail("vote safety: %s voted for %s and then for %s in term %d", k.voter, prev, cand, k.term)
	}
	s.votes[k] = cand
}

func (s *sim) send(from int, m Message) {
	if s.onSend != nil {
		s.onSend(m)
	}
	s.checkVote(m)
	if m.Type == MsgSnap {
		s.stats.snapsSent++
	}
	to := slices.Index(s.ids, m.To)
	if to < 0 || (s.faulting && s.rng.Float64() < s.dropRate) {
		return
	}
	delay := 1 + int64(s.rng.IntN(5))
	if s.faulting && s.rng.Float64() < s.slowRate {
		delay += int64(s.rng.IntN(150))
	}
	inc := s.nodes[from].inc
	s.push(simEvent{at: s.now + delay, kind: evMsg, node: to, msg: m, inc: inc})
	if s.faulting && s.rng.Float64() < s.dupRate {
		s.push(simEvent{at: s.now + delay + int64(s.rng.IntN(50)), kind: evMsg, node: to, msg: m, inc: inc})
	}
}

func (s *sim) deliver(e simEvent) {
	n := s.nodes[e.node]
	from := slices.Index(s.ids, e.msg.From)
	if !n.up || s.cut[[2]int{from, e.node}] || s.nodes[from].inc != e.inc {
		return
	}
	m := e.msg
	m.Entries = slices.Clone(m.Entries)
	n.d.c.step(m)
	s.process(e.node)
}

// client proposes or reads on a random node, preferring those that think
// they lead (stale leaders included: that is where bugs show).
func (s *sim) client() {
	var cands []int
	for i, n := range s.nodes {
		if n.up && n.d.c.role == leader {
			cands = append(cands, i)
		}
	}
	i := s.rng.IntN(len(s.nodes))
	if len(cands) > 0 && s.rng.IntN(5) > 0 {
		i = cands[s.rng.IntN(len(cands))]
	}
	n := s.nodes[i]
	if !n.up {
		return
	}
	if s.rng.IntN(10) < 7 {
		k := 1 + s.rng.IntN(3)
		datas, toks := make([][]byte, k), make([]any, k)
		for j := range k {
			s.nextID++
			datas[j] = binary.BigEndian.AppendUint64(nil, s.nextID)
			toks[j] = propTok{id: s.nextID}
		}
		if err := n.d.propose(datas, toks); err != nil {
			return
		}
	} else if err := n.d.readIndex(readTok{node: i, minCommit: s.maxCommit, start: s.now}); err != nil {
		return
	}
	s.process(i)
}

func (s *sim) isolate(victim int) {
	clear(s.cut)
	for j := range s.nodes {
		if j != victim {
			s.cut[[2]int{victim, j}], s.cut[[2]int{j, victim}] = true, true
		}
	}
	s.trace("isolate %s", s.ids[victim])
}

func (s *sim) fault() {
	r := s.rng.IntN(10)
	switch {
	case r < 3: // heal
		clear(s.cut)
		s.trace("heal")
	case r < 6: // isolate the leader (or a random node)
		victim := s.rng.IntN(len(s.nodes))
		for i, n := range s.nodes {
			if n.up && n.d.c.role == leader {
				victim = i
			}
		}
		s.isolate(victim)
	case r < 7: // cut random links, one way or both: bridges and asymmetric partitions
		clear(s.cut)
		for a := range s.nodes {
			for b := range s.nodes {
				if a != b && s.rng.IntN(3) == 0 {
					s.cut[[2]int{a, b}] = true
				}
			}
		}
		s.trace("cut links %v", s.cut)
	case r < 8: // random split
		clear(s.cut)
		side := make([]bool, len(s.nodes))
		for j := range side {
			side[j] = s.rng.IntN(2) == 0
		}
		for a := range s.nodes {
			for b := range s.nodes {
				if side[a] != side[b] {
					s.cut[[2]int{a, b}] = true
				}
			}
		}
		s.trace("split %v", side)
	default: // crash one node, the leader half of the time
		victim := s.rng.IntN(len(s.nodes))
		if s.rng.IntN(2) == 0 {
			for i, n := range s.nodes {
				if n.up && n.d.c.role == leader {
					victim = i
				}
			}
		}
		s.crash(victim, 5+int64(s.rng.IntN(150)))
	}
}

func (s *sim) run() (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.fail("panic: %v", r)
		}
		if s.violation != nil {
			err = s.violation
		}
	}()
	end := int64(simDuration)
	for s.q.Len() > 0 && s.violation == nil {
		e := heap.Pop(&s.q).(simEvent)
		s.now = e.at
		s.step++
		if s.faulting && s.now >= end {
			s.heal()
		}
		switch e.kind {
		case evTick:
			if n := s.nodes[e.node]; n.up {
				n.d.c.tick()
				s.process(e.node)
			}
			s.push(simEvent{at: s.now + simTick, kind: evTick, node: e.node})
		case evMsg:
			s.deliver(e)
		case evClient:
			if s.faulting {
				s.client()
				s.push(simEvent{at: s.now + 1 + int64(s.rng.IntN(s.clientGap)), kind: evClient})
			}
		case evFault:
			if s.faulting {
				s.fault()
				s.push(simEvent{at: s.now + 20 + int64(s.rng.IntN(s.faultGap)), kind: evFault})
			}
		case evIsolate:
			if s.faulting {
				s.isolate(e.node)
			}
		case evRestart:
			if !s.nodes[e.node].up {
				s.restart(e.node)
			}
		}
		if s.step%500 == 0 {
			s.checkLogMatching()
		}
		if s.now >= end+simSettle {
			break
		}
	}
	if s.violation == nil {
		s.checkLogMatching()
		s.final()
	}
	return nil
}

// heal ends the fault phase: every link restored, every node up.
func (s *sim) heal() {
	s.faulting = false
	clear(s.cut)
	for i, n := range s.nodes {
		if !n.up {
			s.restart(i)
		}
	}
	s.trace("final heal")
}

// final checks that the healed cluster converged: one leader commits a new
// entry, every node applies everything, and no acknowledged proposal is lost.
func (s *sim) final() {
	var lead *simNode
	for _, n := range s.nodes {
		if n.d.c.role == leader && (lead == nil || n.d.c.term > lead.d.c.term) {
			lead = n
		}
	}
	if lead == nil {
		s.fail("liveness: no leader %dms after healing", simSettle)
		return
	}
	lc := lead.d.c
	if !lc.committedInTerm() && s.opts.bug != BugCommitOldTerm {
		s.fail("liveness: leader %s has not committed in term %d %dms after healing", lc.id, lc.term, simSettle)
		return
	}
	for _, n := range s.nodes {
		if n.d.c.applied != lc.commit {
			s.fail("liveness: %s applied %d, the leader %s committed %d, %dms after healing",
				n.id, n.d.c.applied, lc.id, lc.commit, simSettle)
			return
		}
		if !slices.Equal(n.fsm.ids, lead.fsm.ids) {
			s.fail("convergence: %s and %s applied the same index %d but hold different states", n.id, lc.id, lc.commit)
			return
		}
	}
	have := map[uint64]bool{}
	for _, id := range lead.fsm.ids {
		have[id] = true
	}
	var lost []string
	for id := range s.acked {
		if !have[id] {
			lost = append(lost, fmt.Sprint(id))
		}
	}
	if len(lost) > 0 {
		slices.Sort(lost)
		s.fail("durability: %d acknowledged proposals are not in the final state (ids %s)",
			len(lost), strings.Join(lost[:min(len(lost), 10)], ","))
	}
}

func runSim(seed int64, opts simOpts, trace func(string, ...any)) (simStats, error) {
	s := newSim(seed, opts)
	if trace != nil {
		s.trace = func(f string, a ...any) { trace("t=%d "+f, append([]any{s.now}, a...)...) }
	}
	err := s.run()
	s.stats.steps = s.step
	return s.stats, err
}

func simOptsFor(seed int64, bug string) simOpts {
	return simOpts{nodes: []int{3, 3, 5}[seed%3], bug: bug}
}

// Simulate runs the deterministic simulation (below) for one seed with bug
// switched on ("" for none) and returns what it found: nil, or an error
// naming the violated property, the step and the command that reproduces
// it. The cluster size follows the seed (3, 3, 5, …).
//
// It is white-box: it checks invariants inside the nodes (one vote per
// term, log matching) as well as what clients see, on a simulated network
// that can deliver a message to a node after it restarted. Some bugs are
// within its reach and practically beyond a black-box harness's (see the
// catalog's Reach).
func Simulate(seed int64, bug string) error {
	if !knownBug(bug) {
		return fmt.Errorf("unknown raft bug %q", bug)
	}
	_, err := runSim(seed, simOptsFor(seed, bug), nil)
	return err
}
