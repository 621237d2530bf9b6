package bots

import (
	"context"
	"errors"
	"os"
	"time"
)

// blockedWordsPoll is how often Run looks at the blocked words file.
const blockedWordsPoll = 2 * time.Second

// Run reloads the blocked words file whenever its modification time or size changes (it looks every 2
// seconds) until ctx ends. A missing, unreadable or bad file keeps the previous list, with one warning for
// each problem (a missing file, each bad version of it). Without a file, Run only waits for ctx.
func (m *Moderator) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return errors.New("bots: moderator Run called twice")
	}
	m.running = true
	seen := m.wordsStamp
	m.mu.Unlock()

	path := m.cfg.BlockedWordsFile
	if path == "" {
		<-ctx.Done()
		return nil
	}
	tick := time.NewTicker(blockedWordsPoll)
	defer tick.Stop()
	problem := "" // what was last warned about, until a load succeeds
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		fi, err := os.Stat(path)
		if err != nil {
			if p := err.Error(); p != problem {
				m.log.Warn("blocked words file unreadable; keeping the previous list", "file", path, "err", err)
				problem = p
			}
			seen = fileStamp{} // read it again when it is back, even unchanged
			continue
		}
		if stampOf(fi) == seen {
			continue
		}
		list, stamp, badLines, err := loadBlockedWords(path)
		seen = stamp
		if err != nil {
			// Only a changed file is read again, so each bad version is warned about once.
			m.log.Warn("blocked words file not loaded; keeping the previous list", "file", path, "err", err)
			problem = err.Error()
			continue
		}
		problem = ""
		m.mu.Lock()
		m.words, m.wordsStamp = list, stamp
		m.mu.Unlock()
		m.logLoaded(path, list, badLines)
	}
}
