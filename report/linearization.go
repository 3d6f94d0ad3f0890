package report

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// The linearization view is rebuilt here from the history of each failing
// key, so that stored runs get fault annotations and reports need nothing
// but the run directory. The model is a single register (read, write, cas),
// the semantics of the register and kv workloads. It only draws: the verdict
// always comes from results.json, and a disagreement is shown, not hidden.

// regInput is what an op asked for.
type regInput struct {
	f     string
	value string
	from  string
}

// regOutput is what it got back: a read's value, or an unknown cas outcome.
type regOutput struct {
	value   string
	present bool
	unknown bool
}

// regState is the register: absent, or holding value.
type regState struct {
	value   string
	present bool
}

func registerModel() porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Init: func() []interface{} { return []interface{}{regState{}} },
		Step: func(st, in, out interface{}) []interface{} {
			s, i, o := st.(regState), in.(regInput), out.(regOutput)
			switch i.f {
			case harness.FRead:
				if o.present == s.present && (!s.present || o.value == s.value) {
					return []interface{}{s}
				}
				return nil
			case harness.FWrite:
				return []interface{}{regState{value: i.value, present: true}}
			case harness.FCAS:
				match := s.present && s.value == i.from
				switch {
				case o.unknown && match:
					return []interface{}{regState{value: i.value, present: true}, s}
				case o.unknown:
					return []interface{}{s}
				case match:
					return []interface{}{regState{value: i.value, present: true}}
				}
				return nil
			}
			return nil
		},
		// Descriptions go through textContent in porcupine's page; states and
		// metadata go through innerHTML, so those two are escaped here.
		DescribeOperation: func(in, out interface{}) string {
			i, o := in.(regInput), out.(regOutput)
			switch i.f {
			case harness.FRead:
				if !o.present {
					return "read → nil"
				}
				return "read → " + o.value
			case harness.FWrite:
				return "write " + i.value
			default:
				s := "cas " + i.from + "→" + i.value
				if o.unknown {
					s += " ?"
				}
				return s
			}
		},
		DescribeState: func(st interface{}) string {
			s := st.(regState)
			if !s.present {
				return "nil"
			}
			return html.EscapeString(s.value)
		},
		DescribeOperationMetadata: func(m interface{}) string {
			s, _ := m.(string)
			return html.EscapeString(s)
		},
	}
	return nm.ToModel()
}

// linView is one failing key's porcupine page.
type linView struct {
	ID      string
	Key     string
	Ops     int
	Result  string // porcupine's answer on this key: illegal, ok, unknown
	Agrees  bool   // the view agrees with the checker that the key is not linearizable
	Note    string
	HTML    string // porcupine's page, for an iframe srcdoc
	Height  int
	Clients int
}

// maxLinOps bounds a view: beyond it only the ops invoked before the
// anomaly (plus a second) are drawn, which still shows the violation.
const maxLinOps = 3000

// linearizationView checks key's ops with the register model and renders
// porcupine's page with fault periods and the violation as annotation lanes.
func linearizationView(ctx context.Context, id string, all []op, key string, anomalyTime int64, tmax int64, faults []fault) (*linView, error) {
	var kops []op
	for _, o := range all {
		if o.Key != key {
			continue
		}
		switch o.F {
		case harness.FRead, harness.FWrite, harness.FCAS:
		default:
			return nil, nil // not a register: no view
		}
		kops = append(kops, o)
	}
	v := &linView{ID: id, Key: key}
	if len(kops) > maxLinOps {
		cut := anomalyTime + int64(time.Second)
		n := sort.Search(len(kops), func(i int) bool { return kops[i].Start > cut })
		v.Note = fmt.Sprintf("This key has %d ops; the view shows the %d invoked up to 1 s after the violation.", len(kops), n)
		kops = kops[:n]
	}

	clients := map[harness.Process]int{}
	var procs []harness.Process
	for _, o := range kops {
		if _, ok := clients[o.Process]; !ok {
			clients[o.Process] = 0
			procs = append(procs, o.Process)
		}
	}
	sort.Slice(procs, func(i, j int) bool { return procs[i] < procs[j] })
	for i, p := range procs {
		clients[p] = i
	}

	var hist []porcupine.Operation
	lo, hi := int64(-1), int64(0)
	for _, o := range kops {
		in := regInput{f: o.F, value: deref(o.Value), from: deref(o.From)}
		out := regOutput{}
		ret := o.End
		switch o.Outcome {
		case outFail:
			continue // certainly did not happen
		case outInfo, outPending:
			if o.F == harness.FRead {
				continue // an unknown read constrains nothing
			}
			ret = tmax + 1 // may take effect at any later time
			out.unknown = true
		default:
			if o.F == harness.FRead {
				out.present, out.value = o.Value != nil, deref(o.Value)
			}
		}
		if o.F == harness.FWrite && o.Value != nil {
			in.value = *o.Value
		}
		meta := fmt.Sprintf("process %s · node %s · op #%d · %s → %s · %s", o.Process, o.Node, o.Index,
			secs(o.Start), secs(o.End), o.Outcome)
		if o.Error != "" {
			meta += " · " + o.Error
		}
		hist = append(hist, porcupine.Operation{ClientId: clients[o.Process], Input: in, Output: out,
			Call: o.Start, Return: ret, Metadata: meta})
		if lo < 0 || o.Start < lo {
			lo = o.Start
		}
		if o.Outcome == outOK {
			hi = max(hi, o.End)
		}
	}
	v.Ops = len(hist)
	v.Clients = len(procs)
	if len(hist) == 0 {
		return nil, nil
	}
	hi = max(hi, anomalyTime)

	model := registerModel()
	timeout := 5 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	res, info := porcupine.CheckOperationsVerbose(model, hist, timeout)
	v.Result = string(res)
	v.Agrees = res == porcupine.Illegal

	var ann []porcupine.Annotation
	for _, f := range faults {
		if f.End < lo || f.Start > hi {
			continue
		}
		ann = append(ann, porcupine.Annotation{
			Tag:             "fault: " + f.Pkg,
			Start:           max(f.Start, lo),
			End:             min(f.End, hi),
			Description:     f.Label(),
			Details:         fmt.Sprintf("%s from %s to %s%s", f.Label(), secs(f.Start), secs(f.End), nodesSuffix(f.Nodes)),
			BackgroundColor: faultColor(f.Pkg),
		})
	}
	if anomalyTime > 0 {
		ann = append(ann, porcupine.Annotation{
			Tag: "checker", Start: anomalyTime, Description: "violation",
			Details:         "the checker's first violating op completed at " + secs(anomalyTime),
			BackgroundColor: "#d62828", TextColor: "#ffffff",
		})
	}
	info.AddAnnotations(ann)
	var buf bytes.Buffer
	if err := porcupine.Visualize(model, info, &buf); err != nil {
		return nil, fmt.Errorf("visualize key %q: %w", key, err)
	}
	v.HTML = buf.String()
	tags := map[string]bool{}
	for _, a := range ann {
		tags[a.Tag] = true
	}
	// Porcupine draws 45 px per row below a 45 px legend.
	v.Height = min(110+45*(v.Clients+len(tags)), 900)
	return v, nil
}
