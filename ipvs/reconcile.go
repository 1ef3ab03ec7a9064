package ipvs

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// ErrNoIPVS is returned (wrapped) by [Dial] when the kernel has no IPVS:
// the module is missing or cannot be loaded. The daemon logs it and keeps
// running VRRP without virtual servers.
var ErrNoIPVS = errors.New("ipvs: the kernel has no IPVS (module ip_vs not available)")

// Client is the IPVS table: the kernel over generic netlink ([Dial]) or
// the in-memory twin in ipvs/ipvstest. Services returns the whole table
// with destinations, with the kernel's bookkeeping flag
// IP_VS_SVC_F_HASHED cleared and destinations [Dest.Normalize]d.
// AddService programs the service without its destinations (s.Dests is
// ignored); EditService changes its parameters in place, keeping its
// destinations and connections. Adding what exists or deleting or editing
// what does not exist is an error (wrapping fs.ErrExist / fs.ErrNotExist).
type Client interface {
	Services() (Table, error)
	AddService(s *Service) error
	EditService(s *Service) error
	DelService(k ServiceKey) error
	AddDest(k ServiceKey, d Dest) error
	EditDest(k ServiceKey, d Dest) error
	DelDest(k ServiceKey, d DestKey) error
	// Flush deletes every service, foreign ones too (lvs_flush).
	Flush() error
}

// OpKind is one kind of table change.
type OpKind int

// Table changes, in the order a reconciliation applies them.
const (
	OpDelService OpKind = iota + 1
	OpAddService
	OpEditService
	OpDelDest
	OpAddDest
	OpEditDest
)

var opNames = map[OpKind]string{OpDelService: "del-service", OpAddService: "add-service", OpEditService: "edit-service",
	OpDelDest: "del-dest", OpAddDest: "add-dest", OpEditDest: "edit-dest"}

// String names the kind ("add-dest").
func (k OpKind) String() string { return opNames[k] }

// Op is one change a [Reconciler] made (or tried: Err).
type Op struct {
	Kind    OpKind
	Service ServiceKey
	Dest    Dest // the destination for the dest kinds (only its key for del-dest)
	Err     error
}

// String formats the op as "add-dest [192.0.2.1]:tcp:80 -> [198.51.100.1]:80 NAT w1".
func (o Op) String() string {
	s := o.Kind.String() + " " + o.Service.String()
	if o.Kind >= OpDelDest {
		s += " -> " + o.Dest.String()
	}
	if o.Err != nil {
		s += ": " + o.Err.Error()
	}
	return s
}

// Result is what one [Reconciler.Apply] did.
type Result struct {
	Ops []Op
	// Foreign lists the services in the kernel that vigil does not own
	// (not in the desired table and never programmed by this reconciler):
	// they are left alone.
	Foreign []ServiceKey
}

// Reconciler brings a [Client]'s table to a desired [Table], changing only
// the difference: a weight change is one edit of one destination, a
// scheduler change one edit of the service, and a service whose key is
// unchanged is never deleted and re-added (its connections survive). It
// owns the services it has been asked to program, and nothing else.
// A Reconciler is not safe for concurrent use.
type Reconciler struct {
	c     Client
	owned map[ServiceKey]bool
}

// NewReconciler returns a reconciler over c that owns nothing yet.
func NewReconciler(c Client) *Reconciler {
	return &Reconciler{c: c, owned: map[ServiceKey]bool{}}
}

// Owned returns the keys of the services the reconciler owns, sorted.
func (r *Reconciler) Owned() []ServiceKey {
	return slices.SortedFunc(maps.Keys(r.owned), ServiceKey.Compare)
}

// Apply reads the table and changes it to desired. A service named in
// desired is owned from then on (taken over as is if it already exists,
// then corrected); an owned service missing from desired is deleted; any
// other service is reported in Result.Foreign and left alone. A failed
// change does not stop the others; the errors are joined. Applying the
// same desired table again changes nothing.
func (r *Reconciler) Apply(desired Table) (Result, error) {
	var res Result
	cur, err := r.c.Services()
	if err != nil {
		return res, fmt.Errorf("ipvs: reading the table: %w", err)
	}
	var errs []error
	do := func(op Op, f func() error) {
		op.Err = f()
		res.Ops = append(res.Ops, op)
		if op.Err != nil {
			bare := op
			bare.Err = nil
			errs = append(errs, fmt.Errorf("ipvs: %s: %w", bare, op.Err))
		}
	}
	for _, k := range cur.Keys() {
		if _, want := desired[k]; want {
			continue
		}
		if !r.owned[k] {
			res.Foreign = append(res.Foreign, k)
			continue
		}
		do(Op{Kind: OpDelService, Service: k}, func() error { return r.c.DelService(k) })
		delete(r.owned, k)
	}
	for _, k := range desired.Keys() {
		want := desired[k]
		r.owned[k] = true
		have := cur[k]
		if have == nil {
			var addErr error
			do(Op{Kind: OpAddService, Service: k}, func() error { addErr = r.c.AddService(want); return addErr })
			if addErr != nil {
				continue
			}
			have = &Service{Key: k}
		} else if !want.SameParams(have) {
			do(Op{Kind: OpEditService, Service: k}, func() error { return r.c.EditService(want) })
		}
		for _, dk := range slices.SortedFunc(maps.Keys(have.Dests), DestKey.Compare) {
			if _, ok := want.Dests[dk]; !ok {
				d := have.Dests[dk]
				do(Op{Kind: OpDelDest, Service: k, Dest: d}, func() error { return r.c.DelDest(k, dk) })
			}
		}
		for _, dk := range slices.SortedFunc(maps.Keys(want.Dests), DestKey.Compare) {
			d := want.Dests[dk].Normalize()
			old, ok := have.Dests[dk]
			switch {
			case !ok:
				do(Op{Kind: OpAddDest, Service: k, Dest: d}, func() error { return r.c.AddDest(k, d) })
			case old.Normalize() != d:
				do(Op{Kind: OpEditDest, Service: k, Dest: d}, func() error { return r.c.EditDest(k, d) })
			}
		}
	}
	return res, errors.Join(errs...)
}

// Release deletes every service the reconciler owns (shutdown without
// lvs_flush_on_stop) and forgets them; foreign services stay.
func (r *Reconciler) Release() (Result, error) {
	return r.Apply(Table{})
}
