package node

import (
	"bytes"
	"context"
	"io"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// slogWriter turns the line-oriented output of hclog (Raft) into slog
// records, at the level the line names.
type slogWriter struct {
	log *slog.Logger
}

func (w slogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		level := slog.LevelInfo
		switch {
		case bytes.Contains(line, []byte("[ERROR]")):
			level = slog.LevelError
		case bytes.Contains(line, []byte("[WARN]")):
			level = slog.LevelWarn
		case bytes.Contains(line, []byte("[DEBUG]")), bytes.Contains(line, []byte("[TRACE]")):
			level = slog.LevelDebug
		}
		w.log.Log(context.Background(), level, string(line))
	}
	return len(p), nil
}

var _ io.Writer = slogWriter{}

// hclogFor returns an hclog.Logger for Raft that writes into log.
func hclogFor(log *slog.Logger, name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:            name,
		Level:           hclog.Info,
		Output:          slogWriter{log: log.With("component", name)},
		DisableTime:     true,
		IncludeLocation: false,
	})
}
