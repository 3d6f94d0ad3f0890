// Package kvnodetest runs the real kvnode binary: a 3-node raft cluster of
// processes on 127.0.0.1, killed with SIGKILL mid-load and restarted, checked
// for lost acknowledged writes and converging replicas; bad input and torn
// logs; and BenchmarkCluster, the throughput and latency of such a cluster:
//
//	go test ./systemundertest/kvnodetest -run '^$' -bench BenchmarkCluster -benchtime 20000x
//
// The tests build cmd/kvnode once per test binary with `go build`, or run
// the binary named by $KVNODE_BIN.
package kvnodetest
