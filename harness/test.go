package harness

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as "20s".
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration must be a string like \"20s\": %w", err)
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// D returns the duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Test is a whole test as plain data: printable, savable (config.json) and
// replayable. Components are named; cmd/gauntlet's registry resolves them.
type Test struct {
	Name            string   `json:"name"`
	System          string   `json:"system"`
	Deploy          string   `json:"deploy"`
	Workload        string   `json:"workload"`
	Nemesis         []string `json:"nemesis"`
	NemesisInterval Duration `json:"nemesis_interval"` // 0 until the system is known: see ForSystem
	// Timescale is the system's failure-detection and election timescale,
	// which every timed fault scales by (System's Timescaler; 0 until the
	// system is known: see ForSystem).
	Timescale       Duration `json:"timescale"`
	Nodes           int      `json:"nodes"`
	Concurrency     int      `json:"concurrency"`
	Rate            float64  `json:"rate"`          // total ops/s; 0 = as fast as possible
	ReadFraction    float64  `json:"read_fraction"` // share of reads; 0 = the workload's default
	TimeLimit       Duration `json:"time_limit"`
	RecoveryLimit   Duration `json:"recovery_limit"`
	CheckTimeout    Duration `json:"check_timeout"`
	OpTimeout       Duration `json:"op_timeout"`
	Seed            int64    `json:"seed"`
	Bug             string   `json:"bug"`
	Out             string   `json:"out"`
	StopOnViolation bool     `json:"stop_on_violation"`
	// Options are the system's own options (e.g. etcd-version); a run
	// records every one the system declares, defaults resolved.
	Options map[string]string `json:"options"`
	Hosts   string            `json:"hosts,omitempty"` // hosts file of the ssh deployment
}

// NemesisName is the nemesis list as one word, e.g. "partition,kill" or "none".
func (t Test) NemesisName() string {
	if len(t.Nemesis) == 0 {
		return "none"
	}
	return strings.Join(t.Nemesis, ",")
}

// Results is what results.json holds.
type Results struct {
	Test     Test      `json:"test"`
	Verdict  Validity  `json:"verdict"`
	Start    time.Time `json:"start"`
	Duration Duration  `json:"duration"`  // wall time of the whole run
	TestTime Duration  `json:"test_time"` // length of the main phase actually run
	Ops      int       `json:"ops"`       // client ops completed
	Checkers []Result  `json:"checkers"`
	Digests  []Digest  `json:"digests,omitempty"`
	// FirstViolation is the test time (ns) of the first violating op, if any.
	FirstViolation *int64 `json:"first_violation,omitempty"`
	// Error says why the run could not be carried out (exit 3), if it could not.
	Error       string `json:"error,omitempty"`
	Interrupted bool   `json:"interrupted,omitempty"`
	Command     string `json:"command"` // the command that replays this run
	// Dir is the run directory (<out>/<name>/<start>), as the runner made it.
	Dir    string  `json:"dir,omitempty"`
	Phases []Phase `json:"phases,omitempty"`
}

// Phase records when a phase of the run started and how long it took.
type Phase struct {
	Name     string   `json:"name"`
	Start    int64    `json:"start"` // ns since test start
	Duration Duration `json:"duration"`
	Error    string   `json:"error,omitempty"`
}

// Result file names inside a run directory.
const (
	ConfigFile  = "config.json"
	HistoryFile = "history.jsonl"
	ResultsFile = "results.json"
	DigestsFile = "digests.json"
	ReportFile  = "report.html"
	NodesDir    = "nodes"
)

// CommandLine is the gauntlet command that runs this test again with the
// same schedule.
func (t Test) CommandLine() string { return t.CommandLineOf("gauntlet") }

// CommandLineOf is CommandLine for a program other than gauntlet: one that
// calls cli.Main with its own systems registered.
func (t Test) CommandLineOf(program string) string {
	args := []string{program, "run",
		"--system", t.System, "--deploy", t.Deploy, "--workload", t.Workload,
		"--nemesis", t.NemesisName()}
	if t.NemesisInterval > 0 {
		args = append(args, "--nemesis-interval", t.NemesisInterval.D().String())
	}
	if t.Timescale > 0 {
		args = append(args, "--timescale", t.Timescale.D().String())
	}
	args = append(args, "--nodes", fmt.Sprint(t.Nodes), "--concurrency", fmt.Sprint(t.Concurrency),
		"--time-limit", t.TimeLimit.D().String(), "--seed", fmt.Sprint(t.Seed))
	if t.Rate > 0 {
		args = append(args, "--rate", fmt.Sprint(t.Rate))
	}
	if t.ReadFraction > 0 {
		args = append(args, "--read-fraction", fmt.Sprint(t.ReadFraction))
	}
	if t.Bug != "" {
		args = append(args, "--bug", t.Bug)
	}
	if t.Hosts != "" {
		args = append(args, "--hosts", t.Hosts)
	}
	if t.StopOnViolation {
		args = append(args, "--stop-on-violation")
	}
	// Bounds are written when they differ from the defaults: a 3 s op
	// timeout changes what a run can see.
	for _, b := range []struct {
		flag      string
		v         Duration
		byDefault time.Duration
	}{
		{"op-timeout", t.OpTimeout, DefaultOpTimeout},
		{"recovery-limit", t.RecoveryLimit, DefaultRecoveryLimit},
		{"check-timeout", t.CheckTimeout, DefaultCheckTimeout},
	} {
		if b.v > 0 && b.v.D() != b.byDefault {
			args = append(args, "--"+b.flag, b.v.D().String())
		}
	}
	keys := make([]string, 0, len(t.Options))
	for k := range t.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if t.Options[k] != "" { // an empty string is an option left unset
			args = append(args, "--"+k+"="+t.Options[k])
		}
	}
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$`\\|&;<>()*?") {
			args[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(args, " ")
}
