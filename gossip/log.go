package gossip

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
)

// logWriter turns memberlist's standard-library log lines, such as
// "[DEBUG] memberlist: Initiating push/pull sync with: ...", into slog
// records. Lines without a recognised level prefix are logged at debug.
type logWriter struct {
	log *slog.Logger
}

var logLevels = []struct {
	prefix string
	level  slog.Level
}{
	{"[TRACE]", slog.LevelDebug},
	{"[DEBUG]", slog.LevelDebug},
	{"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn},
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
}

// Write logs one or more newline-separated lines; it never fails.
func (w *logWriter) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		w.line(string(bytes.TrimRight(line, "\r\n")))
	}
	return len(p), nil
}

func (w *logWriter) line(s string) {
	level := slog.LevelDebug
	for _, l := range logLevels {
		if rest, ok := strings.CutPrefix(s, l.prefix); ok {
			level, s = l.level, strings.TrimSpace(rest)
			break
		}
	}
	s = strings.TrimPrefix(s, "memberlist: ")
	if s == "" {
		return
	}
	ctx := context.Background()
	if w.log.Enabled(ctx, level) {
		w.log.Log(ctx, level, s)
	}
}
