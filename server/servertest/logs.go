package servertest

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
)

// Logs collects the text log lines of Herald and the simulator, safe for concurrent use.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; a slog text handler writes one whole record per call.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Contains reports whether any line contains s.
func (l *Logs) Contains(s string) bool { return strings.Contains(l.String(), s) }

// Lines returns the lines that contain s.
func (l *Logs) Lines(s string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// Tail returns the last n lines.
func (l *Logs) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(l.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// sloggerPair are the loggers of Herald and of the simulator, writing to the same Logs.
type sloggerPair struct {
	herald, sim *slog.Logger
}

func newLoggers(l *Logs) *sloggerPair {
	h := slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo})
	return &sloggerPair{herald: slog.New(h), sim: slog.New(h).With("process", "sim")}
}
