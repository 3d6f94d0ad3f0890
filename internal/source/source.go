// Package source finds the gauntlet checkout that node binaries (kvnode,
// gauntlet-fault) are built from, so that a gauntlet binary works from any
// working directory: a nightly cron job, a campaign folder, `bin/gauntlet`.
package source

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// ModulePath is gauntlet's module.
const ModulePath = "github.com/gauntlet-dev/gauntlet"

// Env names a checkout explicitly.
const Env = "GAUNTLET_SOURCE"

// ModuleDir returns the root of a gauntlet checkout: $GAUNTLET_SOURCE if set,
// else the first directory holding gauntlet's go.mod from the working
// directory upwards, else the checkout this binary was built from (its
// source path is compiled in unless built with -trimpath) if it still
// exists.
func ModuleDir() (string, error) {
	if dir := os.Getenv(Env); dir != "" {
		if !isRoot(dir) {
			return "", fmt.Errorf("%s=%s holds no go.mod of %s", Env, dir, ModulePath)
		}
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if isRoot(dir) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if dir := filepath.Dir(filepath.Dir(filepath.Dir(file))); isRoot(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no go.mod of %s in %s or above, and the checkout this binary was built from is gone: "+
		"run from a gauntlet checkout or set %s to one", ModulePath, wd, Env)
}

func isRoot(dir string) bool {
	mod, ok := moduleName(filepath.Join(dir, "go.mod"))
	return ok && mod == ModulePath
}

func moduleName(gomod string) (string, bool) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if mod, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(mod), `"`), true
		}
	}
	return "", false
}
