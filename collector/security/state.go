package security

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/atomicfile"
)

// Advisory sweeps take minutes (NVD pacing) and run every few hours: their
// last good results are kept in the state directory so that a restart or
// reload neither drops the advisory series (which would resolve and re-fire
// alerts) nor forgets what "suddenly empty" is compared with.

// secState is the persisted form of one feed's last good result.
type secState[T any] struct {
	// Inventory is the CPE list the result was matched against; a result
	// for another inventory is discarded.
	Inventory []string  `json:"inventory"`
	SavedAt   time.Time `json:"saved_at"`
	Value     T         `json:"value"`
}

func secInventoryKey(inv []config.Software) []string {
	out := make([]string, len(inv))
	for i, s := range inv {
		out[i] = s.Product + "=" + s.Name.String()
	}
	return out
}

func secStatePath(dir, feed string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "security-"+feed+".json")
}

// secSave writes the value so that a crash leaves the old or the new state.
func secSave[T any](path string, inv []config.Software, v T, now time.Time) error {
	if path == "" {
		return nil
	}
	data, err := json.Marshal(secState[T]{Inventory: secInventoryKey(inv), SavedAt: now, Value: v})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, 0o640)
}

// secLoad reads a saved value; ok is false when there is none, it is
// unreadable or it belongs to another inventory.
func secLoad[T any](path string, inv []config.Software, logger log.Logger) (T, time.Time, bool) {
	var st secState[T]
	if path == "" {
		return st.Value, time.Time{}, false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !os.IsNotExist(err) {
			level.Warn(logger).Log("msg", "cannot read saved advisory state", "file", path, "err", err)
		}
		return st.Value, time.Time{}, false
	}
	if err := json.Unmarshal(data, &st); err != nil {
		level.Warn(logger).Log("msg", "ignoring corrupt saved advisory state", "file", path, "err", err)
		return st.Value, time.Time{}, false
	}
	if strings.Join(st.Inventory, "\n") != strings.Join(secInventoryKey(inv), "\n") {
		level.Info(logger).Log("msg", "inventory changed: saved advisory state discarded", "file", path)
		return st.Value, time.Time{}, false
	}
	return st.Value, st.SavedAt, true
}
