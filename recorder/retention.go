package recorder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Prune applies retention to the recordings directory: files older than
// retention_days go first, then the oldest files while the directory is over
// max_total_mb. Files of open calls are never touched. Each deletion is
// logged. It returns the names it deleted.
func (r *Recorder) Prune() ([]string, error) {
	entries, err := os.ReadDir(r.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("retention: read %s: %w", r.cfg.Dir, err)
	}
	type file struct {
		name string
		mod  time.Time
		size int64
	}
	r.namesMu.Lock()
	open := make(map[string]bool, len(r.names))
	for n := range r.names {
		open[n] = true
		open[n+".part"] = true
	}
	r.namesMu.Unlock()

	var files []file
	var total int64
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || open[name] || !(strings.HasSuffix(name, ".wav") || strings.HasSuffix(name, ".wav.part")) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		files = append(files, file{name, info.ModTime(), info.Size()})
		total += info.Size()
	}
	sort.Slice(files, func(i, j int) bool {
		if files[i].mod.Equal(files[j].mod) {
			return files[i].name < files[j].name
		}
		return files[i].mod.Before(files[j].mod)
	})

	now := r.now()
	var deleted []string
	var errs []error
	remove := func(f file, reason string) {
		if err := os.Remove(filepath.Join(r.cfg.Dir, f.name)); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
			return
		}
		total -= f.size
		deleted = append(deleted, f.name)
		r.log.Info("recording deleted", "file", f.name, "reason", reason,
			"age", now.Sub(f.mod).Round(time.Second).String(), "bytes", f.size)
	}
	kept := files[:0]
	for _, f := range files {
		if r.cfg.RetentionDays > 0 && now.Sub(f.mod) > time.Duration(r.cfg.RetentionDays)*24*time.Hour {
			remove(f, "retention_days")
			continue
		}
		kept = append(kept, f)
	}
	if limit := r.cfg.MaxTotalMB * 1_000_000; limit > 0 {
		for _, f := range kept {
			if total <= limit {
				break
			}
			remove(f, "max_total_mb")
		}
	}
	if len(errs) > 0 {
		return deleted, fmt.Errorf("retention: %w", errs[0])
	}
	return deleted, nil
}

// RunRetention prunes every interval until ctx is done.
func (r *Recorder) RunRetention(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := r.Prune(); err != nil {
			r.log.Warn("recording retention failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
