package transport

import (
	"math"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

// fill sets every field reachable from v to a non-zero value, integers to
// the largest their kind holds (so a widened type is noticed too).
func fill(t *testing.T, v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fill(t, v.Field(i), seed+i)
		}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		v.SetUint(math.MaxUint64 >> (64 - v.Type().Bits()) >> (seed % 3))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.String:
		v.SetString("s" + string(rune('a'+seed%26)))
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(t, s.Index(i), seed+i+1)
		}
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(t, p.Elem(), seed+1)
		v.Set(p)
	default:
		t.Fatalf("fill: the codec test does not know kind %s (%s): teach codec.go and this test", v.Kind(), v.Type())
	}
}

func TestCodecCoversEveryField(t *testing.T) {
	var full raft.Message
	fill(t, reflect.ValueOf(&full).Elem(), 0)
	batch := []raft.Message{full, {Type: raft.MsgHeartbeat, From: "n1", To: "n2", Term: 3}, full}
	got, err := decodeBatch(encodeBatch(nil, batch))
	require.NoError(t, err)
	assert.Equal(t, batch, got, "a raft.Message field is missing from codec.go")
}

func TestCodecRejectsGarbage(t *testing.T) {
	var full raft.Message
	fill(t, reflect.ValueOf(&full).Elem(), 0)
	enc := encodeBatch(nil, []raft.Message{full})
	for i := range len(enc) {
		_, err := decodeBatch(enc[:i])
		assert.Error(t, err, "prefix of %d bytes", i)
	}
	_, err := decodeBatch(append(enc, 0))
	assert.Error(t, err)
	_, err = decodeBatch([]byte{codecVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	assert.Error(t, err, "a huge count is refused before allocating")
	_, err = decodeBatch([]byte{9, 0})
	assert.Error(t, err, "unknown version")
}

func BenchmarkCodec(b *testing.B) {
	batch := make([]raft.Message, 64)
	for i := range batch {
		batch[i] = raft.Message{Type: raft.MsgApp, From: "n1", To: "n2", Term: 7, PrevIndex: uint64(i), Commit: 100,
			Entries: []raft.Entry{{Index: uint64(i + 1), Term: 7, Data: make([]byte, 40)}}}
	}
	var buf []byte
	for b.Loop() {
		buf = encodeBatch(buf[:0], batch)
		if _, err := decodeBatch(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func TestKindsOfAWrite(t *testing.T) {
	batch := []raft.Message{
		{Type: raft.MsgVoteResp, From: "n1", To: "n2", Term: 3, Granted: true},
		{Type: raft.MsgApp, From: "n1", To: "n2", Term: 3, Entries: []raft.Entry{{Index: 1, Term: 3}}},
		{Type: raft.MsgApp, From: "n1", To: "n2", Term: 3},
	}
	body := encodeBatch(nil, batch)
	req := append([]byte("POST "+Path+" HTTP/1.1\r\nHost: n2\r\nContent-Type: x\r\n\r\n"), body...)
	require.Equal(t, []string{"vote-granted", "append"}, Kinds(req))
	require.Equal(t, []string{"vote-granted"}, Kinds(req[:len(req)-20]), "a batch cut by the write names what it holds")
	require.Nil(t, Kinds([]byte("HTTP/1.1 204 No Content\r\n\r\n")))
	require.Nil(t, Kinds(body))
}
