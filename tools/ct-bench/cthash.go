//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The host's conntrack hash size (buckets): the sysctl, writable by root
// in the initial namespace, and the module parameter, the older way to
// resize it.
const (
	bucketsSysctl = "/proc/sys/net/netfilter/nf_conntrack_buckets"
	bucketsParam  = "/sys/module/nf_conntrack/parameters/hashsize"
)

// labTables is how many namespaces hold a size's flows at once: the three
// senders (v1, c1, w1) and the warm standby's kernel (w2) hold them from
// the event path on; while the commits of a second or later trial run,
// the plain receivers' kernels (v2 and c2, each still holding the
// previous trial's commit) and the floor's (fl) hold them too. The
// DisableExternalCache pair's two (d1, d2) hold them only while it is
// measured, before the commits, and are flushed after. With -warm-only
// the warm pair and the DisableExternalCache pair hold flows.
func labTables(warmOnly bool) int {
	if warmOnly {
		return 4
	}
	return 7
}

// labSlack is room in the hash for the entries that are not the bench's
// flows (the sync links' own traffic, the host's).
const labSlack = 1024

// labBuckets is the conntrack hash size a run whose largest size is
// largest needs so that its chains stay short: a bucket per entry the run
// holds at once across its namespaces (every namespace's entries share
// the host's one table), rounded up as the kernel rounds a new size: to
// whole pages of bucket heads (perPage heads a page).
func labBuckets(largest int, warmOnly bool, perPage int) int {
	n := labTables(warmOnly)*largest + labSlack
	return (n + perPage - 1) / perPage * perPage
}

// headsPerPage is how many bucket heads (one pointer each) fill a page.
func headsPerPage() int {
	return os.Getpagesize() / (strconv.IntSize / 8)
}

// hostBuckets reads the host's conntrack hash size.
func hostBuckets() (int, error) {
	var errs []error
	for _, p := range []string{bucketsSysctl, bucketsParam} {
		b, err := os.ReadFile(p)
		if err == nil {
			var n int
			if n, err = strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return n, nil
			}
		}
		errs = append(errs, err)
	}
	return 0, errors.Join(errs...)
}

// setHostBuckets resizes the host's conntrack hash (the kernel rehashes
// every entry into the new table) through the sysctl, or the module
// parameter if the sysctl refuses.
func setHostBuckets(n int) error {
	v := []byte(strconv.Itoa(n))
	err := os.WriteFile(bucketsSysctl, v, 0o644)
	if err == nil {
		return nil
	}
	if err2 := os.WriteFile(bucketsParam, v, 0o644); err2 != nil {
		return errors.Join(err, err2)
	}
	return nil
}

// sizeHostHash sizes the host's conntrack hash for the run when it is
// smaller than want, as a firewall sizes its hash for its table, and
// registers the old size's restoration with cleanup.
func sizeHostHash(want int, cleanup func(func())) error {
	old, err := hostBuckets()
	if err != nil {
		return fmt.Errorf("reading the conntrack hash size: %w", err)
	}
	if old >= want {
		fmt.Fprintf(os.Stderr, "ct-bench: conntrack hash %d buckets, at least the %d this run needs\n", old, want)
		return nil
	}
	if err := setHostBuckets(want); err != nil {
		return fmt.Errorf("sizing the conntrack hash to %d buckets: %w", want, err)
	}
	cleanup(func() {
		if err := setHostBuckets(old); err != nil {
			fmt.Fprintf(os.Stderr, "ct-bench: restoring the conntrack hash to %d buckets: %v\n", old, err)
		}
	})
	now, err := hostBuckets()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "ct-bench: conntrack hash %d -> %d buckets for this run\n", old, now)
	if now < want {
		return fmt.Errorf("conntrack hash: %d buckets after asking for %d", now, want)
	}
	return nil
}
