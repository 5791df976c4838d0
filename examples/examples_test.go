// Package examples holds no code: its test keeps the example deployment
// files in step with the commands they start.
package examples

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

// execStart returns the binary and the flag names of a unit's ExecStart
// (continuation lines joined).
func execStart(t *testing.T, unit string) (string, []string) {
	t.Helper()
	f, err := os.Open(unit)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var line strings.Builder
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "ExecStart=") {
			in = true
			l = strings.TrimPrefix(l, "ExecStart=")
		}
		if !in {
			continue
		}
		cont := strings.HasSuffix(l, "\\")
		line.WriteString(strings.TrimSuffix(l, "\\") + " ")
		if !cont {
			break
		}
	}
	fields := strings.Fields(line.String())
	if len(fields) == 0 {
		t.Fatalf("%s: no ExecStart", unit)
	}
	var flags []string
	for _, a := range fields[1:] {
		if !strings.HasPrefix(a, "--") {
			t.Fatalf("%s: argument %q is not a --flag", unit, a)
		}
		flags = append(flags, strings.SplitN(a, "=", 2)[0])
	}
	return filepath.Base(fields[0]), flags
}

// TestSystemdUnitsUseRealFlags builds each command a unit starts and
// checks that every flag of its ExecStart is one the command accepts, so a
// renamed flag cannot leave a unit that fails at boot.
func TestSystemdUnitsUseRealFlags(t *testing.T) {
	units, err := filepath.Glob("systemd/*.service")
	if err != nil || len(units) == 0 {
		t.Fatalf("no units: %v", err)
	}
	dir := t.TempDir()
	flagRE := regexp.MustCompile(`--\[?(?:no-)?\]?([a-z0-9][a-z0-9.-]*)`)
	for _, unit := range units {
		bin, flags := execStart(t, unit)
		if _, err := os.Stat(filepath.Join("..", "cmd", bin)); err != nil {
			t.Fatalf("%s starts %s, which is not a command of this repository", unit, bin)
		}
		if err := testbin.Build(dir, "./cmd/"+bin); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, bin)
		out, err := exec.Command(path, "--help").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --help: %v\n%s", bin, err, out)
		}
		known := map[string]bool{}
		for _, m := range flagRE.FindAllStringSubmatch(string(out), -1) {
			known["--"+m[1]] = true
		}
		for _, f := range flags {
			if !known[f] {
				t.Errorf("%s: %s has no flag %s", unit, bin, f)
			}
		}
	}
}
