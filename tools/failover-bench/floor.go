//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
)

// floorResult is the wake-up latency of one way to sleep until a
// deadline on this machine under its current load: how late the sleeper
// runs after the deadline.
type floorResult struct {
	name string
	late []time.Duration
}

// measureFloor samples, interleaved so that all meet the same load, n
// wake-ups after a sleep of d for each way a daemon can wait:
//
//   - a blocking read(2) of a timerfd on a thread of its own (what a
//     single-threaded C daemon such as keepalived gets at best: one
//     thread woken by the kernel);
//   - a timerfd read through Go's poller by the goroutine that then does
//     the work (vigild's loop timer: its turn runs where the poller woke
//     it);
//   - the same read followed by a channel to a second goroutine (vigild's
//     shape before, when the loop goroutine ran every turn);
//   - a Go time.Timer (rounded by the runtime).
//
// It is the physical floor under the takeover's wake-up in the TIMELINE.
func measureFloor(n int, d time.Duration) ([]floorResult, error) {
	bare := floorResult{name: "timerfd, blocking read on its own thread"}
	poll := floorResult{name: "timerfd via Go's poller (vigild)"}
	hopped := floorResult{name: "timerfd via Go's poller + channel hop"}
	gotm := floorResult{name: "Go time.Timer"}

	fd1, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd1)
	fd2, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	f2 := os.NewFile(uintptr(fd2), "floor-timerfd")
	defer f2.Close()
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d.Nanoseconds())}

	// The bare sleeper: one locked thread, one blocking read per sample.
	bareReq, bareDone := make(chan struct{}), make(chan time.Duration)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var buf [8]byte
		for range bareReq {
			due := time.Now().Add(d)
			if err := unix.TimerfdSettime(fd1, 0, &spec, nil); err != nil {
				bareDone <- -1
				continue
			}
			_, err := unix.Read(fd1, buf[:])
			late := time.Since(due)
			if err != nil {
				late = -1
			}
			bareDone <- late
		}
	}()
	defer close(bareReq)

	// A reader goroutine that measures its own wake-up (vigild's shape),
	// or posts to a channel for the main goroutine (the hop).
	type req struct{ hop bool }
	polls, polled := make(chan req), make(chan time.Duration)
	hop := make(chan time.Time, 1)
	go func() {
		var buf [8]byte
		for r := range polls {
			due := time.Now().Add(d)
			if err := unix.TimerfdSettime(fd2, 0, &spec, nil); err != nil {
				polled <- -1
				continue
			}
			if _, err := f2.Read(buf[:]); err != nil {
				polled <- -1
				continue
			}
			if r.hop {
				hop <- due
				continue
			}
			polled <- time.Since(due)
		}
	}()
	defer close(polls)

	for range n {
		bareReq <- struct{}{}
		if l := <-bareDone; l >= 0 {
			bare.late = append(bare.late, l)
		}

		polls <- req{}
		if l := <-polled; l >= 0 {
			poll.late = append(poll.late, l)
		}
		polls <- req{hop: true}
		select {
		case due := <-hop:
			hopped.late = append(hopped.late, time.Since(due))
		case <-polled: // the timer failed
		}

		due := time.Now().Add(d)
		t := time.NewTimer(d)
		<-t.C
		gotm.late = append(gotm.late, time.Since(due))
	}
	return []floorResult{bare, poll, hopped, gotm}, nil
}

// printFloor writes the wake-up floor table.
func printFloor(out io.Writer, rs []floorResult, d time.Duration) {
	fmt.Fprintf(out, "FLOOR: how late a sleeper runs after a %v sleep on this machine now (µs; median / p90 / max of %d).\n", d, len(rs[0].late))
	fmt.Fprintln(out, "  No implementation can take over sooner than this after its deadline; the machine is shared, so load shows here first.")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "sleeper\tmedian\tp90\tmax\t")
	for _, r := range rs {
		if len(r.late) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t\n", r.name)
			continue
		}
		med, _, hi := summary(r.late)
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t\n", r.name, usf(med), usf(percentile(r.late, 0.9)), usf(hi))
	}
	tw.Flush()
	fmt.Fprintln(out)
}

func usf(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
