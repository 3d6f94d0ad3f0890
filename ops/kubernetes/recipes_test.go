// Package kubernetes holds recipes (YAML) for running gauntlet campaigns on
// Kubernetes; its tests decode them strictly with the Kubernetes API types
// and check that they shard a campaign the way `gauntlet campaign --shard`
// expects. The GitHub Actions matrix of ../ci is checked here too.
package kubernetes

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gauntlet-dev/gauntlet/campaign"
)

func loadJob(t *testing.T, file string) *batchv1.Job {
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var job batchv1.Job
	// Strict: a misspelt or misplaced field is an error, as kubectl apply
	// --validate=strict would say.
	require.NoError(t, sigsyaml.UnmarshalStrict(b, &job), file)
	require.Equal(t, "batch/v1", job.APIVersion)
	require.Equal(t, "Job", job.Kind)
	return &job
}

func TestStrictDecodingCatchesMistakes(t *testing.T) {
	b, err := os.ReadFile("campaign-job.yaml")
	require.NoError(t, err)
	bad := strings.Replace(string(b), "completionMode:", "completionsMode:", 1)
	var job batchv1.Job
	assert.ErrorContains(t, sigsyaml.UnmarshalStrict([]byte(bad), &job), "completionsMode")
}

// shardsOf runs the container's shell command for every completion index
// with a fake gauntlet on PATH that prints its arguments, and returns the
// --shard and --dir each pod would use.
func shardsOf(t *testing.T, c corev1.Container, indexes int) (shards, dirs []string) {
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "gauntlet"), []byte("#!/bin/sh\nprintf '%s\\n' \"$@\"\n"), 0o755))
	require.Equal(t, []string{"/bin/sh", "-c"}, c.Command)
	require.Len(t, c.Args, 1)
	for i := range indexes {
		cmd := exec.Command("/bin/sh", "-c", c.Args[0])
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "JOB_COMPLETION_INDEX=" + strconv.Itoa(i)}
		out, err := cmd.Output()
		require.NoError(t, err)
		args := strings.Split(strings.TrimSpace(string(out)), "\n")
		for j, a := range args {
			switch a {
			case "--shard":
				shards = append(shards, args[j+1])
			case "--dir":
				dirs = append(dirs, args[j+1])
			}
		}
	}
	return shards, dirs
}

func TestIndexedJobShardsTheCampaign(t *testing.T) {
	job := loadJob(t, "campaign-job.yaml")
	s := job.Spec
	require.NotNil(t, s.CompletionMode)
	assert.Equal(t, batchv1.IndexedCompletion, *s.CompletionMode)
	require.NotNil(t, s.Completions)
	n := int(*s.Completions)
	require.NotNil(t, s.Parallelism)
	assert.Equal(t, n, int(*s.Parallelism), "every shard at once")
	assert.Equal(t, corev1.RestartPolicyNever, s.Template.Spec.RestartPolicy, "podFailurePolicy needs Never")
	require.NotNil(t, s.PodFailurePolicy)
	require.NotNil(t, s.BackoffLimitPerIndex, "FailIndex needs backoffLimitPerIndex")
	require.Len(t, s.Template.Spec.Containers, 1)

	shards, dirs := shardsOf(t, s.Template.Spec.Containers[0], n)
	require.Len(t, shards, n)
	seen := map[campaign.Shard]bool{}
	for i, sh := range shards {
		parsed, err := campaign.ParseShard(sh)
		require.NoError(t, err, "pod %d", i)
		assert.Equal(t, campaign.Shard{Index: i + 1, Count: n}, parsed, "pod %d runs shard %d of %d", i, i+1, n)
		seen[parsed] = true
	}
	assert.Len(t, seen, n)
	assert.Len(t, uniq(dirs), n, "each shard its own folder (a retried pod resumes it)")
	for _, d := range dirs {
		assert.True(t, strings.HasPrefix(d, mountOf(t, s.Template.Spec.Containers[0], "results")), d)
	}
	for _, r := range s.PodFailurePolicy.Rules {
		require.NotNil(t, r.OnExitCodes)
		assert.Equal(t, []int32{1, 2, 64}, r.OnExitCodes.Values, "judged shards are not retried")
	}

	merge := loadJob(t, "merge-job.yaml")
	mc := merge.Spec.Template.Spec.Containers[0]
	assert.Contains(t, mc.Args[0], "gauntlet campaign merge")
	assert.Contains(t, mc.Args[0], "/results/shard-*", "merges the folders the shards write")
	assert.Equal(t, s.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName,
		merge.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName, "one shared volume")
}

func mountOf(t *testing.T, c corev1.Container, volume string) string {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	t.Fatalf("container %s mounts no volume %s", c.Name, volume)
	return ""
}

func uniq(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// TestGitHubMatrixShardsTheCampaign: the workflow's matrix is 1..N and each
// job's command says --shard <its index>/N; the merge job needs them all.
func TestGitHubMatrixShardsTheCampaign(t *testing.T) {
	b, err := os.ReadFile("../ci/github-campaign.yml")
	require.NoError(t, err)
	var wf struct {
		Jobs map[string]struct {
			Needs    any `yaml:"needs"`
			If       string
			Strategy struct {
				Matrix struct {
					Shard []int `yaml:"shard"`
				} `yaml:"matrix"`
			} `yaml:"strategy"`
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &wf))
	shard, merge := wf.Jobs["shard"], wf.Jobs["merge"]
	n := len(shard.Strategy.Matrix.Shard)
	require.Greater(t, n, 1)
	for i, s := range shard.Strategy.Matrix.Shard {
		assert.Equal(t, i+1, s)
	}
	re := regexp.MustCompile(`--shard \$\{\{ matrix\.shard \}\}/(\d+)`)
	var found bool
	for _, st := range shard.Steps {
		if m := re.FindStringSubmatch(st.Run); m != nil {
			found = true
			assert.Equal(t, strconv.Itoa(n), m[1], "--shard …/N with N the matrix size")
			sh, err := campaign.ParseShard(strings.ReplaceAll(m[0][len("--shard "):], "${{ matrix.shard }}", "1"))
			require.NoError(t, err)
			assert.Equal(t, n, sh.Count)
		}
	}
	assert.True(t, found, "a step runs gauntlet campaign --shard ${{ matrix.shard }}/N")
	assert.Equal(t, "shard", merge.Needs)
	assert.Equal(t, "always()", merge.If, "the merge also reports failed shards")
	var merges bool
	for _, st := range merge.Steps {
		merges = merges || strings.Contains(st.Run, "gauntlet campaign merge")
	}
	assert.True(t, merges)
}
