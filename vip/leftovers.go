package vip

import (
	"context"
	"errors"
	"reflect"
	"slices"
)

// Leftovers are virtual addresses, routes and rules that may still be on the
// host although nothing holds them any more: those of a daemon that was
// killed (SIGKILL, a crash) before it could remove them.
type Leftovers struct {
	Addresses []Address
	Routes    []Route
	Rules     []Rule
}

// Len is the number of entries of every kind.
func (l Leftovers) Len() int { return len(l.Addresses) + len(l.Routes) + len(l.Rules) }

// RemoveLeftovers removes the entries of l that r reports present and
// returns the ones it removed, in l's order: rules first, then routes, then
// addresses (keepalived's order when it releases an instance). Entries that
// are absent, or on an interface that does not exist, are skipped without an
// error. An entry that is present and stays present is not in removed; the
// reason is joined into err with the errors of the presence checks. It never
// touches an entry l does not name.
func RemoveLeftovers(ctx context.Context, r Reconciler, l Leftovers) (removed Leftovers, err error) {
	var errs []error
	removed.Rules, errs = sweep(ctx, l.Rules, r.PresentRules, r.RemoveRules, errs)
	removed.Routes, errs = sweep(ctx, l.Routes, r.PresentRoutes, r.RemoveRoutes, errs)
	removed.Addresses, errs = sweep(ctx, l.Addresses, r.Present, r.RemoveAddresses, errs)
	return removed, errors.Join(errs...)
}

// sweep removes the present entries of xs and returns those that are gone
// afterwards.
func sweep[T any](ctx context.Context, xs []T, present func(context.Context, []T) ([]T, error),
	remove func(context.Context, []T) error, errs []error) ([]T, []error) {
	if len(xs) == 0 {
		return nil, errs
	}
	there, err := present(ctx, xs)
	errs = append(errs, err)
	if len(there) == 0 {
		return nil, errs
	}
	errs = append(errs, remove(ctx, there))
	still, err := present(ctx, there)
	errs = append(errs, err)
	if err != nil {
		// Unknown which went: report none rather than guess.
		return nil, errs
	}
	gone := slices.DeleteFunc(slices.Clone(there), func(x T) bool {
		return slices.ContainsFunc(still, func(y T) bool { return reflect.DeepEqual(x, y) })
	})
	return gone, errs
}
