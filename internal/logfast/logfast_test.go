package logfast

import (
	"bytes"
	"log/slog"
	"regexp"
	"testing"
)

// The line is the one slog's own method writes, attributes, level and
// the logger's own attributes included; a disabled level writes nothing.
func TestSameLine(t *testing.T) {
	var a, b bytes.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	la := slog.New(slog.NewTextHandler(&a, opts)).With("instance", "VI_1")
	lb := slog.New(slog.NewTextHandler(&b, opts)).With("instance", "VI_1")
	la.Info("vip: added address", "addr", "192.0.2.254/24", "iface", "eth0", slog.Int("n", 3))
	Info(lb, "vip: added address", "addr", "192.0.2.254/24", "iface", "eth0", slog.Int("n", 3))
	la.Debug("not written")
	Debug(lb, "not written")
	time := regexp.MustCompile(`time=\S+ `)
	got, want := time.ReplaceAllString(b.String(), ""), time.ReplaceAllString(a.String(), "")
	if got != want || want == "" {
		t.Fatalf("logfast wrote %q, slog %q", got, want)
	}
}

// No source position is looked up: a handler that prints the source gets
// none.
func TestNoSource(t *testing.T) {
	var b bytes.Buffer
	l := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{AddSource: true}))
	Info(l, "x")
	if bytes.Contains(b.Bytes(), []byte("logfast_test.go")) {
		t.Fatalf("a source position was looked up: %s", b.String())
	}
}

func BenchmarkLog(b *testing.B) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, nil))
	b.Run("slog", func(b *testing.B) {
		for b.Loop() {
			buf.Reset()
			l.Info("vip: added address", "addr", "192.0.2.254/24", "iface", "eth0")
		}
	})
	b.Run("logfast", func(b *testing.B) {
		for b.Loop() {
			buf.Reset()
			Info(l, "vip: added address", "addr", "192.0.2.254/24", "iface", "eth0")
		}
	})
}
