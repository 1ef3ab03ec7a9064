package vip

import "time"

// Option configures a Manager.
type Option func(*managerOptions)

type managerOptions struct {
	timeout time.Duration
}

// DefaultTimeout bounds each netlink request of a Manager unless
// WithTimeout says otherwise. It is a tunable of ours, not of an RFC.
const DefaultTimeout = 5 * time.Second

// WithTimeout bounds each netlink request (the receive timeout of the
// Manager's netlink socket). d ≤ 0 means no bound.
func WithTimeout(d time.Duration) Option {
	return func(o *managerOptions) { o.timeout = d }
}

func buildOptions(opts []Option) managerOptions {
	o := managerOptions{timeout: DefaultTimeout}
	for _, f := range opts {
		f(&o)
	}
	return o
}
