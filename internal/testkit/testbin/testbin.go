// Package testbin finds the pinned tools (promtool, prometheus,
// alertmanager, amtool, mailpit) that `make tools` installs into ./bin, and
// builds this repository's own programs, for tests that drive the real
// programs.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Path returns the path of a pinned tool. Outside CI a missing tool skips
// the test (run `make tools`); under CI (CI=true) it fails it, so a green CI
// never hides a test that did not run.
func Path(t testing.TB, name string) string {
	t.Helper()
	for _, dir := range dirs() {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil && os.Getenv("BOSAIMAIL_BIN") == "" {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found in BOSAIMAIL_BIN or ./bin: run make tools", name)
	}
	t.Skipf("%s not found: run make tools", name)
	return ""
}

func dirs() []string {
	var out []string
	if d := os.Getenv("BOSAIMAIL_BIN"); d != "" {
		out = append(out, d)
	}
	if root := RepoRoot(); root != "" {
		out = append(out, filepath.Join(root, "bin"))
	}
	return out
}

// RepoRoot walks up from the working directory to the directory with go.mod.
func RepoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Build compiles packages of this repository (such as
// "./cmd/bosaimail_exporter") into dir, each binary named after its
// package, so a test runs the program as built from the tree under test.
func Build(dir string, pkgs ...string) error {
	cmd := exec.Command("go", append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...)
	cmd.Dir = RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	return nil
}
