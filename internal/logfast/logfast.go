package logfast

import (
	"context"
	"log/slog"
	"time"
)

// Log writes msg with args at level through l, as l.Log(nil, level, msg,
// args...) would, with no source position (the record's PC is 0).
func Log(l *slog.Logger, level slog.Level, msg string, args ...any) {
	ctx := context.Background()
	if !l.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.Add(args...)
	_ = l.Handler().Handle(ctx, r)
}

// Info is Log at slog.LevelInfo.
func Info(l *slog.Logger, msg string, args ...any) { Log(l, slog.LevelInfo, msg, args...) }

// Debug is Log at slog.LevelDebug.
func Debug(l *slog.Logger, msg string, args ...any) { Log(l, slog.LevelDebug, msg, args...) }
