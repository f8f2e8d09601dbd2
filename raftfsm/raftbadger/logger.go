package raftbadger

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// badgerLogger adapts an *slog.Logger to badger.Logger. Badger is chatty at
// info and debug level (every compaction and flush), so only warnings and
// errors are forwarded.
type badgerLogger struct {
	l *slog.Logger
}

func (b badgerLogger) log(level slog.Level, format string, args []any) {
	if !b.l.Enabled(context.Background(), level) {
		return
	}
	b.l.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

// Errorf implements badger.Logger.
func (b badgerLogger) Errorf(format string, args ...any) { b.log(slog.LevelError, format, args) }

// Warningf implements badger.Logger.
func (b badgerLogger) Warningf(format string, args ...any) { b.log(slog.LevelWarn, format, args) }

// Infof implements badger.Logger; it discards the message.
func (badgerLogger) Infof(string, ...any) {}

// Debugf implements badger.Logger; it discards the message.
func (badgerLogger) Debugf(string, ...any) {}
