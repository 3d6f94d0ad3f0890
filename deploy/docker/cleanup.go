package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// foreignStaleAfter is the age after which leftovers of a run started on
// another host (e.g. an earlier CI container sharing the daemon) count as
// dead: we cannot ask that host whether its process lives.
const foreignStaleAfter = 6 * time.Hour

// Cleanup removes every container, network and volume labelled with runID.
func Cleanup(ctx context.Context, runID string) error {
	prepareEnv()
	cli, err := newClient(ctx)
	if err != nil {
		return fmt.Errorf("cleanup %s: %w", runID, err)
	}
	defer cli.Close()
	return removeRun(ctx, cli, runID, 0)
}

// CleanupStale removes what runs that died (harness SIGKILLed, machine
// rebooted) left behind. A run is dead when its owner process on this host
// is gone, or, for runs of other hosts, when it is older than 6h. Live runs
// (parallel campaigns) are left alone.
func CleanupStale(ctx context.Context) error {
	prepareEnv()
	cli, err := newClient(ctx)
	if err != nil {
		return fmt.Errorf("cleanup stale: %w", err)
	}
	defer cli.Close()
	return cleanupStale(ctx, cli, nil)
}

type runInfo struct {
	owner   string
	created time.Time
}

func cleanupStale(ctx context.Context, cli client.APIClient, log func(run string)) error {
	runs := map[string]runInfo{}
	note := func(labels map[string]string, created time.Time) {
		run := labels[LabelRun]
		if run == "" {
			return
		}
		ri, seen := runs[run]
		if !seen || created.Before(ri.created) {
			runs[run] = runInfo{owner: labels[LabelOwner], created: created}
		}
	}
	f := make(client.Filters).Add("label", LabelRun)
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	for _, c := range cs.Items {
		note(c.Labels, time.Unix(c.Created, 0))
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	for _, n := range ns.Items {
		note(n.Labels, n.Created)
	}
	vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("list volumes: %w", err)
	}
	for _, v := range vs.Items {
		created, _ := time.Parse(time.RFC3339, v.CreatedAt)
		note(v.Labels, created)
	}
	var errs []error
	for run, ri := range runs {
		if ownerAlive(ri.owner, ri.created) {
			continue
		}
		if log != nil {
			log(run)
		}
		if err := removeRun(ctx, cli, run, 0); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// owner identifies this process for LabelOwner: host/pid/start, the start
// time telling a reused pid apart.
func owner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), processStart(os.Getpid()))
}

func ownerAlive(o string, created time.Time) bool {
	parts := strings.SplitN(o, "/", 3)
	if len(parts) != 3 {
		return time.Since(created) < foreignStaleAfter
	}
	host, _ := os.Hostname()
	if parts[0] != host {
		return time.Since(created) < foreignStaleAfter
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil {
		return false
	}
	if pid == os.Getpid() {
		return true
	}
	start := processStart(pid)
	return start != "" && start == parts[2]
}

// processStart is field 22 of /proc/<pid>/stat (start time in clock ticks
// since boot); "" if the process does not exist.
func processStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return ""
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}

// removeRun removes a run's containers (nodes before their holders), then
// its networks and volumes. With settle > 0 it keeps looking until nothing
// new has appeared for that long: a create cancelled by the client may
// still complete in the daemon a moment later.
func removeRun(ctx context.Context, cli client.APIClient, runID string, settle time.Duration) error {
	f := make(client.Filters).Add("label", LabelRun+"="+runID)
	deadline := time.Now().Add(settle + 30*time.Second)
	quietSince := time.Now()
	for {
		n, err := removeOnce(ctx, cli, f)
		if err != nil {
			return fmt.Errorf("cleanup run %s: %w", runID, err)
		}
		if n > 0 {
			quietSince = time.Now()
		}
		if time.Since(quietSince) >= settle || time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cleanup run %s: %w", runID, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func removeOnce(ctx context.Context, cli client.APIClient, f client.Filters) (int, error) {
	removed := 0
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return 0, fmt.Errorf("list containers: %w", err)
	}
	var errs []error
	for _, role := range []string{"node", "holder", ""} {
		for _, c := range cs.Items {
			if r := c.Labels[LabelRole]; (role == "" && r != "node" && r != "holder") || (role != "" && r != role) {
				continue
			}
			_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && !cerrdefs.IsNotFound(err) && !isRemovalInProgress(err) {
				errs = append(errs, fmt.Errorf("remove container %s: %w", c.ID[:12], err))
			}
			removed++
		}
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return removed, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range ns.Items {
		if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
		removed++
	}
	vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return removed, fmt.Errorf("list volumes: %w", err)
	}
	for _, v := range vs.Items {
		if _, err := cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

func isRemovalInProgress(err error) bool {
	return strings.Contains(err.Error(), "already in progress")
}

// newClient is testcontainers' Docker client (it resolves DOCKER_HOST,
// contexts and ~/.testcontainers.properties the same way as for containers).
func newClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		cli.Close()
		return nil, err
	}
	return cli, nil
}
