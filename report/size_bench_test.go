package report

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

// millionFixture is a 10-minute run of 1,000,000 ops by 20 clients on
// 10,000 keys, with a partition every 20 s, a kill, and one stale read (so
// the report has an anomaly and a linearization view too).
func millionFixture() fixture {
	var fs []scriptedFault
	for s := 10; s < 600; s += 20 {
		fs = append(fs, scriptedFault{"partition", "random halves {n1,n2} | {n3,n4,n5}", "n1,n2,n3,n4,n5",
			time.Duration(s) * time.Second, time.Duration(s+10) * time.Second})
	}
	fs = append(fs, scriptedFault{"kill", "kill n1", "n1", 300 * time.Second, 305 * time.Second})
	return fixture{name: "million", ops: 1000000, duration: 10 * time.Minute, procs: 20, keys: 10000,
		staleRead: true, faults: fs}
}

// BenchmarkReportMillion writes the report of a synthetic 1,000,000-op run
// and fails if it exceeds issue 16's 20 MB budget. Generating the run takes
// about 20 s, so it is a benchmark (make bench), not part of go test:
//
//	go test ./report -run '^$' -bench ReportMillion -benchtime 1x
func BenchmarkReportMillion(b *testing.B) {
	dir := writeFixture(b, b.TempDir(), millionFixture())
	var size int64
	for b.Loop() {
		if err := Write(context.Background(), dir); err != nil {
			b.Fatal(err)
		}
		st, err := os.Stat(filepath.Join(dir, h.ReportFile))
		if err != nil {
			b.Fatal(err)
		}
		size = st.Size()
	}
	b.ReportMetric(float64(size)/1e6, "MB")
	b.Logf("1,000,000-op report: %.2f MB (budget 20 MB); %s", float64(size)/1e6, loadAverage())
	if size > 20e6 {
		b.Fatalf("the 1,000,000-op report is %.2f MB, over the 20 MB budget", float64(size)/1e6)
	}
}
