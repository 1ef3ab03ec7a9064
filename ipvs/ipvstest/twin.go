// Package ipvstest holds the in-memory twin of the IPVS table, for tests
// of code that drives an [ipvs.Client] without root or a kernel with IPVS.
// The same contract test runs over the twin and over the kernel, so the
// twin answers as the kernel does (errors wrapping fs.ErrExist and
// fs.ErrNotExist, unknown schedulers refused, the HASHED flag never shown).
package ipvstest

import (
	"fmt"
	"io/fs"
	"maps"
	"sync"

	"github.com/vigil-ha/vigil/ipvs"
)

// schedulers are the kernel's scheduler modules.
var schedulers = map[string]bool{"rr": true, "wrr": true, "lc": true, "wlc": true, "lblc": true, "lblcr": true,
	"dh": true, "sh": true, "sed": true, "nq": true, "fo": true, "ovf": true, "mh": true, "twos": true}

// Twin is an in-memory IPVS table. The zero value is not usable: call New.
// It is safe for concurrent use.
type Twin struct {
	mu sync.Mutex
	// mu guards the following fields.
	t ipvs.Table
	// Fail, when set, is asked before every change; a non-nil error is
	// returned instead of making the change (fault injection).
	fail func(op ipvs.OpKind, k ipvs.ServiceKey) error
}

var _ ipvs.Client = (*Twin)(nil)

// New returns an empty twin.
func New() *Twin { return &Twin{t: ipvs.Table{}} }

// FailWith makes every later change for which f returns an error fail with
// it; nil clears it.
func (w *Twin) FailWith(f func(op ipvs.OpKind, k ipvs.ServiceKey) error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fail = f
}

func (w *Twin) check(op ipvs.OpKind, k ipvs.ServiceKey) error {
	if w.fail != nil {
		return w.fail(op, k)
	}
	return nil
}

// Services returns a copy of the table.
func (w *Twin) Services() (ipvs.Table, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.t.Clone(), nil
}

// ServiceList returns a copy of the table without destinations.
func (w *Twin) ServiceList() (ipvs.Table, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := make(ipvs.Table, len(w.t))
	for k, s := range w.t {
		c := *s
		c.Dests = map[ipvs.DestKey]ipvs.Dest{}
		t[k] = &c
	}
	return t, nil
}

// Dests returns copies of the destinations of the services named; one
// that does not exist has none, as the kernel answers.
func (w *Twin) Dests(keys []ipvs.ServiceKey) (map[ipvs.ServiceKey]map[ipvs.DestKey]ipvs.Dest, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[ipvs.ServiceKey]map[ipvs.DestKey]ipvs.Dest, len(keys))
	for _, k := range keys {
		out[k] = map[ipvs.DestKey]ipvs.Dest{}
		if s := w.t[k]; s != nil {
			out[k] = maps.Clone(s.Dests)
		}
	}
	return out, nil
}

func validService(s *ipvs.Service) error {
	if !schedulers[s.Scheduler] {
		return fmt.Errorf("ipvstest: scheduler %q: %w", s.Scheduler, fs.ErrNotExist)
	}
	if s.Key.IsFWMark() != (s.Key.FWMark != 0) || (s.Key.Family != ipvs.IPv4 && s.Key.Family != ipvs.IPv6) {
		return fmt.Errorf("ipvstest: invalid service key %s", s.Key)
	}
	return nil
}

// AddService adds s without destinations.
func (w *Twin) AddService(s *ipvs.Service) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.check(ipvs.OpAddService, s.Key); err != nil {
		return err
	}
	if err := validService(s); err != nil {
		return err
	}
	if w.t[s.Key] != nil {
		return fmt.Errorf("ipvstest: service %s: %w", s.Key, fs.ErrExist)
	}
	c := s.Clone()
	clear(c.Dests)
	w.t[s.Key] = c
	return nil
}

// EditService changes the parameters of s, keeping its destinations.
func (w *Twin) EditService(s *ipvs.Service) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.check(ipvs.OpEditService, s.Key); err != nil {
		return err
	}
	if err := validService(s); err != nil {
		return err
	}
	old := w.t[s.Key]
	if old == nil {
		return fmt.Errorf("ipvstest: service %s: %w", s.Key, fs.ErrNotExist)
	}
	c := s.Clone()
	c.Dests = old.Dests
	w.t[s.Key] = c
	return nil
}

// DelService deletes the service and its destinations.
func (w *Twin) DelService(k ipvs.ServiceKey) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.check(ipvs.OpDelService, k); err != nil {
		return err
	}
	if w.t[k] == nil {
		return fmt.Errorf("ipvstest: service %s: %w", k, fs.ErrNotExist)
	}
	delete(w.t, k)
	return nil
}

func (w *Twin) dest(op ipvs.OpKind, k ipvs.ServiceKey, dk ipvs.DestKey, wantExist bool) (*ipvs.Service, error) {
	if err := w.check(op, k); err != nil {
		return nil, err
	}
	s := w.t[k]
	if s == nil {
		return nil, fmt.Errorf("ipvstest: service %s: %w", k, fs.ErrNotExist)
	}
	_, ok := s.Dests[dk]
	switch {
	case ok && !wantExist:
		return nil, fmt.Errorf("ipvstest: destination %s of %s: %w", dk, k, fs.ErrExist)
	case !ok && wantExist:
		return nil, fmt.Errorf("ipvstest: destination %s of %s: %w", dk, k, fs.ErrNotExist)
	}
	return s, nil
}

// AddDest adds d to the service k.
func (w *Twin) AddDest(k ipvs.ServiceKey, d ipvs.Dest) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, err := w.dest(ipvs.OpAddDest, k, d.Key(), false)
	if err != nil {
		return err
	}
	s.Dests[d.Key()] = d.Normalize()
	return nil
}

// EditDest replaces the destination with d's key.
func (w *Twin) EditDest(k ipvs.ServiceKey, d ipvs.Dest) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, err := w.dest(ipvs.OpEditDest, k, d.Key(), true)
	if err != nil {
		return err
	}
	s.Dests[d.Key()] = d.Normalize()
	return nil
}

// DelDest deletes the destination dk of service k.
func (w *Twin) DelDest(k ipvs.ServiceKey, dk ipvs.DestKey) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, err := w.dest(ipvs.OpDelDest, k, dk, true)
	if err != nil {
		return err
	}
	delete(s.Dests, dk)
	return nil
}

// Flush empties the table.
func (w *Twin) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	clear(w.t)
	return nil
}
