package transport

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

// The wire format of a batch: a version byte, a count, then each message's
// fields in declaration order (uvarints, length-prefixed strings and bytes,
// one flags byte for the booleans and the optional snapshot). It is
// hand-written because gob compiled a decoder per batch and that was a
// tenth of a busy leader's CPU. TestCodecCoversEveryField fills every field
// of raft.Message by reflection, so a field added to the contract without
// being added here fails the tests instead of vanishing on the wire.
const codecVersion = 1

const (
	flagGranted = 1 << iota
	flagSuccess
	flagSnapshot
)

func encodeBatch(b []byte, batch []raft.Message) []byte {
	b = append(b, codecVersion)
	b = binary.AppendUvarint(b, uint64(len(batch)))
	for i := range batch {
		b = encodeMessage(b, &batch[i])
	}
	return b
}

func encodeMessage(b []byte, m *raft.Message) []byte {
	var flags byte
	if m.Granted {
		flags |= flagGranted
	}
	if m.Success {
		flags |= flagSuccess
	}
	if m.Snapshot != nil {
		flags |= flagSnapshot
	}
	b = append(b, byte(m.Type), flags)
	b = appendBytes(b, []byte(m.From))
	b = appendBytes(b, []byte(m.To))
	for _, v := range []uint64{m.Term, m.LastIndex, m.LastTerm, m.PrevIndex, m.PrevTerm, m.Commit, m.MatchIndex, m.RejectHint, m.Context} {
		b = binary.AppendUvarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Entries)))
	for _, e := range m.Entries {
		b = binary.AppendUvarint(b, e.Index)
		b = binary.AppendUvarint(b, e.Term)
		b = append(b, byte(e.Type))
		b = appendBytes(b, e.Data)
	}
	if s := m.Snapshot; s != nil {
		b = binary.AppendUvarint(b, s.Index)
		b = binary.AppendUvarint(b, s.Term)
		b = binary.AppendUvarint(b, uint64(len(s.Peers)))
		for _, p := range s.Peers {
			b = appendBytes(b, []byte(p))
		}
		b = appendBytes(b, s.Data)
	}
	return b
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// decoder reads the wire format; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("truncated or malformed %s", what)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail("byte")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must fit in what is left (each item takes at
// least min bytes), so garbage cannot make us allocate gigabytes.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.fail("count")
		return 0
	}
	return int(n)
}

// bytes returns a copy: the request buffer is not kept alive by entries.
func (d *decoder) bytes() []byte {
	n := d.count(1)
	if d.err != nil || n == 0 {
		return nil
	}
	out := make([]byte, n)
	copy(out, d.b[:n])
	d.b = d.b[n:]
	return out
}

func (d *decoder) string() string {
	n := d.count(1)
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func decodeBatch(b []byte) ([]raft.Message, error) {
	d := &decoder{b: b}
	if v := d.byte(); d.err == nil && v != codecVersion {
		return nil, fmt.Errorf("decode batch: unknown version %d", v)
	}
	n := d.count(4)
	batch := make([]raft.Message, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		var m raft.Message
		d.message(&m)
		batch = append(batch, m)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode batch: %w", d.err)
	}
	return batch, nil
}

func (d *decoder) message(m *raft.Message) {
	m.Type = raft.MsgType(d.byte())
	flags := d.byte()
	m.Granted, m.Success = flags&flagGranted != 0, flags&flagSuccess != 0
	m.From, m.To = d.string(), d.string()
	for _, p := range []*uint64{&m.Term, &m.LastIndex, &m.LastTerm, &m.PrevIndex, &m.PrevTerm, &m.Commit, &m.MatchIndex, &m.RejectHint, &m.Context} {
		*p = d.uvarint()
	}
	if n := d.count(4); n > 0 {
		m.Entries = make([]raft.Entry, n)
		for i := range m.Entries {
			e := &m.Entries[i]
			e.Index, e.Term = d.uvarint(), d.uvarint()
			e.Type = raft.EntryType(d.byte())
			e.Data = d.bytes()
		}
	}
	if flags&flagSnapshot != 0 {
		s := &raft.Snapshot{Index: d.uvarint(), Term: d.uvarint()}
		if n := d.count(1); n > 0 {
			s.Peers = make([]string, n)
			for i := range s.Peers {
				s.Peers[i] = d.string()
			}
		}
		s.Data = d.bytes()
		m.Snapshot = s
	}
}
