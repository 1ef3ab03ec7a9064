package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestJobLogHeldUntilOutcome: what a kernel job logs through a logger its
// jobLog wrapped is written when the loop applies the job's outcome,
// before the outcome's own lines and with the time it was logged at, so
// that a takeover's "added address" line no longer delays its GARP; a job
// without an outcome still hands its lines over; lines logged outside a
// job are written at once; past maxHeldRecords a job's lines are written
// at once, in order.
func TestJobLogHeldUntilOutcome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ev := &ctEvents{}
		loopLog := slog.New(logEvents{ev})
		k := newKernelWork()
		k.logs = &jobLog{}
		log := k.logs.wrap(loopLog)
		go k.run()
		defer k.finish()

		log.Info("outside a job")
		if got, want := ev.get(), []string{"log outside a job"}; !slices.Equal(got, want) {
			t.Fatalf("logged %q, want %q at once", got, want)
		}

		logged := time.Now()
		k.do(func(context.Context) func(time.Time) {
			log.Info("added address")
			time.Sleep(100 * time.Microsecond)
			ev.add("announce") // the GARP the line no longer delays
			return func(time.Time) { loopLog.Info("outcome") }
		})
		k.do(func(context.Context) func(time.Time) {
			log.Info("no outcome")
			return nil
		})
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got, want := ev.get(), []string{"log outside a job", "announce"}; !slices.Equal(got, want) {
			t.Fatalf("with both jobs done, before the loop took their outcomes: %q, want %q", got, want)
		}
		if k.idle() {
			t.Error("idle with two outcomes not applied")
		}

		time.Sleep(time.Second)
		for range 2 {
			k.apply(<-k.results, time.Now())
		}
		want := []string{"log outside a job", "announce", "log added address", "log outcome", "log no outcome"}
		if got := ev.get(); !slices.Equal(got, want) {
			t.Fatalf("after the loop took the outcomes: %q, want %q", got, want)
		}
		if i, at := ev.first("log added address"); !at.Equal(logged) {
			t.Errorf("line %d written with time %v, want the time it was logged, %v", i, at, logged)
		}
		if !k.idle() {
			t.Error("not idle with every outcome applied")
		}

		k.do(func(context.Context) func(time.Time) {
			for i := range maxHeldRecords + 1 {
				log.Info(fmt.Sprint(i))
			}
			return nil
		})
		synctest.Wait()
		got := ev.get()[len(want):]
		if len(got) != maxHeldRecords+1 || got[0] != "log 0" || got[maxHeldRecords] != fmt.Sprintf("log %d", maxHeldRecords) {
			t.Errorf("a job that logged %d lines: %d written before its end (first %q), want all, in order", maxHeldRecords+1, len(got), got[:min(len(got), 1)])
		}
		if !k.idle() {
			t.Error("a job whose lines were all written left an outcome to apply")
		}
	})
}
