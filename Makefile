# Gauntlet's everyday commands. `make test` is what CI runs (.ci/run).
GO ?= go

.PHONY: run test bench e2e build nightly detect

# One run end to end on local processes: the correct raft store under
# partitions, kills and pauses; prints the verdict and where the results are.
run:
	$(GO) run ./cmd/gauntlet run --time-limit 20s

# The whole test suite, end-to-end runs included (needs Docker for the docker
# deployment's tests; they skip without a daemon unless GAUNTLET_REQUIRE_DOCKER=1).
test:
	$(GO) test -timeout 40m ./...

# Only the end-to-end tests of the command.
e2e:
	$(GO) test -timeout 20m -v ./e2e/

# Throughput of the harness alone (no-op client) and the checker's speed;
# the size of a 1,000,000-op run's report (fails over 20 MB); then the
# checker beside plain porcupine on the same histories (hot keys with cas, a
# million-op history, porcupine's own test_data), with time, CPU time and
# peak RSS of each; porcupine gets 60 s per shape. Then the isolation
# checker: transactions per second, time and peak RSS for 100k and 1M
# list-append and rw-register transactions, 10 and 50 clients, beside
# Elle's published figures. Then the sim deployment (internal/simbench):
# runs per minute of a 5-node raft cluster over 60 s of virtual time beside
# the same run on local processes; replay agreement. (./report/ includes the
# load time of a 100,000-op report in Chromium, skipped without one.)
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./harness/ ./checkers/... ./report/
	$(GO) run ./internal/checkbench -timeout 60s
	$(GO) run ./internal/txnbench
	$(GO) run ./internal/simbench -runs 10 -time-limit 60s -rates 0,100 -replays 20

build:
	$(GO) build -o bin/gauntlet ./cmd/gauntlet

# The nightly chaos campaign (see campaigns/nightly.yaml), bounded to 2 hours;
# resumable: rerun with --dir <the campaign folder it printed>. Then the
# transactions, locks, sets and counters on the correct stores
# (campaigns/workloads*.yaml, every cell must be valid). Then the
# reproduction registry (campaigns/reproduce.yaml, docs/reproductions.md):
# known real bugs on their affected and fixed releases, 30 minutes, writing
# results/reproduce/reproductions.md. Then raft's deterministic simulation
# over 3000 seeds, and its search for the bugs only it can reach.
nightly:
	$(GO) run ./cmd/gauntlet campaign --budget 2h campaigns/nightly.yaml
	$(GO) run ./cmd/gauntlet campaign --budget 1h campaigns/workloads.yaml
	$(GO) run ./cmd/gauntlet campaign --budget 30m campaigns/workloads-quorum.yaml
	$(GO) run ./cmd/gauntlet bench reproduce --budget 30m --parallel 1
	$(GO) test -timeout 30m -count=1 ./systemundertest/raft -run 'TestSim$$|TestSimFindsBugs' -seeds 3000 -v

# The detection benchmark: every catalog bug caught under gauntlet run's
# default schedule, and the correct store never invalid; about 26 minutes on
# 2 cores (docs/detection.md, docs/measurements.md).
detect:
	$(GO) run ./cmd/gauntlet bench detect
