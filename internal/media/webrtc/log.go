package webrtc

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pion/logging"
)

// pionLogs adapts pion's leveled loggers to slog. Pion's Info is chatty
// (every listener, every candidate pair), so it becomes Debug; its Trace is
// dropped. Each record carries the pion scope ("ice", "dtls", "pc", ...).
type pionLogs struct{ log *slog.Logger }

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

// quiet lists pion warnings that are expected with this package's set-up and
// only noise in the logs; they are logged at Debug.
var quiet = []string{
	// Deliberate: one UDP socket on ":7882" is the documented set-up (see
	// doc.go); pion prefers one socket per interface.
	"should not listening on unspecified address",
	// Normal while a connection starts (answer applied before any
	// candidate pair exists) or closes (sockets closed under readers).
	"Failed to ping without candidate pairs",
	"use of closed network connection",
	"read/write on closed pipe",
	"stream is already closed",
}

func (l pionLogger) emit(level slog.Level, msg string) {
	if level == slog.LevelWarn {
		for _, q := range quiet {
			if strings.Contains(msg, q) {
				level = slog.LevelDebug
				break
			}
		}
	}
	ctx := context.Background()
	if l.log.Enabled(ctx, level) {
		l.log.Log(ctx, level, msg)
	}
}

func (l pionLogger) Trace(string)              {}
func (l pionLogger) Tracef(string, ...any)     {}
func (l pionLogger) Debug(msg string)          { l.emit(slog.LevelDebug, msg) }
func (l pionLogger) Debugf(f string, a ...any) { l.emitf(slog.LevelDebug, f, a) }
func (l pionLogger) Info(msg string)           { l.emit(slog.LevelDebug, msg) }
func (l pionLogger) Infof(f string, a ...any)  { l.emitf(slog.LevelDebug, f, a) }
func (l pionLogger) Warn(msg string)           { l.emit(slog.LevelWarn, msg) }
func (l pionLogger) Warnf(f string, a ...any)  { l.emitf(slog.LevelWarn, f, a) }
func (l pionLogger) Error(msg string)          { l.emit(slog.LevelError, msg) }
func (l pionLogger) Errorf(f string, a ...any) { l.emitf(slog.LevelError, f, a) }
func (l pionLogger) emitf(lv slog.Level, f string, a []any) {
	// Formatting is the expensive part; skip it when the level is off.
	if l.log.Enabled(context.Background(), lv) {
		l.emit(lv, fmt.Sprintf(f, a...))
	}
}
