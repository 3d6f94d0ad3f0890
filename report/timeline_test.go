package report

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

// Chunks: ops that outlast the chunk after next (here one that never
// completed and one slow info op) go to chunk 0; every other chunk ends
// before the one after next begins, so a window needs only the chunks it
// overlaps; and in each chunk, lanes are in order and each lane in time.
func TestChunkOpsByTime(t *testing.T) {
	const n = 3*chunkOps + 100
	var all []op
	for i := range n {
		p := h.Process(i % 4)
		start := int64(i) * 1000
		all = append(all, op{Index: 2 * i, EndIndex: 2*i + 1, Process: p, Start: start, End: start + 900, Outcome: outOK})
	}
	all[10].End, all[10].Outcome, all[10].EndIndex = int64(n)*1000, outPending, -1
	all[20].End, all[20].Outcome = all[20].Start+int64(chunkOps)*3000, outInfo
	lane, lanes := assignLanes(all)
	require.Equal(t, 4, lanes)
	chunks := chunkOpsByTime(all, lane)
	require.Len(t, chunks, 5)
	require.Len(t, chunks[0], 2)
	assert.ElementsMatch(t, []int{all[10].Index, all[20].Index}, []int{chunks[0][0].Index, chunks[0][1].Index})
	total := 0
	for c, ch := range chunks {
		total += len(ch)
		for r := 1; r < len(ch); r++ {
			prev, cur := ch[r-1], ch[r]
			assert.True(t, prev.lane < cur.lane || (prev.lane == cur.lane && prev.Start <= cur.Start), "chunk %d row %d in order", c, r)
		}
		if c == 0 || c+2 >= len(chunks) {
			continue
		}
		next := chunks[c+2][0].Start
		for _, o := range chunks[c+2] {
			next = min(next, o.Start)
		}
		for _, o := range ch {
			assert.LessOrEqual(t, o.End, next, "chunk %d ends before chunk %d begins", c, c+2)
		}
	}
	assert.Equal(t, n, total)
	// A process taking over a lane is marked once, where it starts.
	marks := 0
	for _, ch := range chunks {
		for _, o := range ch {
			if o.newPrc {
				marks++
			}
		}
	}
	assert.Equal(t, 4, marks)
}
