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
// IP_VS_SVC_F_HASHED cleared and destinations [Dest.Normalize]d;
// ServiceList the same services without their destinations (one read of
// the kernel, where the destinations take one read per service), and
// Dests the destinations of the services named (none, and no error, for
// one that does not exist, as the kernel answers). AddService programs
// the service without its destinations (s.Dests is ignored); EditService changes its parameters in place, keeping its
// destinations and connections. Adding what exists or deleting or editing
// what does not exist is an error (wrapping fs.ErrExist / fs.ErrNotExist).
type Client interface {
	Services() (Table, error)
	ServiceList() (Table, error)
	Dests(keys []ServiceKey) (map[ServiceKey]map[DestKey]Dest, error)
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
	// Read is how many services' destinations were read from the client.
	Read int
}

// Reconciler brings a [Client]'s table to a desired [Table], changing only
// the difference: a weight change is one edit of one destination, a
// scheduler change one edit of the service, and a service whose key is
// unchanged is never deleted and re-added (its connections survive). It
// owns the services it has been asked to program, and nothing else.
//
// It remembers what it knows each owned service holds (as read, then as
// changed by its own successful changes), so that a large table with a
// few changes costs a few reads: see [Reconciler.Apply].
// A Reconciler is not safe for concurrent use.
type Reconciler struct {
	c     Client
	owned map[ServiceKey]bool
	// known is, for owned services, the parameters and destinations the
	// client holds as far as the reconciler knows: read by it, then
	// changed by its changes that succeeded. A service with a failed
	// change is forgotten (read again by the next Apply).
	known Table
}

// NewReconciler returns a reconciler over c that owns nothing yet.
func NewReconciler(c Client) *Reconciler {
	return &Reconciler{c: c, owned: map[ServiceKey]bool{}, known: Table{}}
}

// Resync forgets what the reconciler knows of the destinations, so that
// the next Apply reads those of every service it is asked for and
// corrects whatever others changed in them.
func (r *Reconciler) Resync() { r.known = Table{} }

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
//
// Every Apply reads the list of services with their parameters (one
// read), so a service deleted, added or edited by others is corrected.
// The destinations of a service are read when it is not known yet (the
// first Apply, after Resync or a failed change), when its parameters are
// not the ones the reconciler set, or when desired changes its
// destinations; the others are taken as the reconciler left them. A
// destination that others changed in a service that vigil does not
// change is corrected at the next Resync; keepalived never reads the
// table at all.
func (r *Reconciler) Apply(desired Table) (Result, error) {
	var res Result
	cur, read, err := r.read(desired)
	if err != nil {
		return res, err
	}
	res.Read = len(read)
	// The plan, in the order Result.Ops reports it. Service changes are
	// made first, then the destination changes of every service whose
	// add-service succeeded: a client that batches ([batcher]) makes each
	// phase in few exchanges with the kernel.
	n := len(cur)
	for _, s := range desired {
		n += 1 + len(s.Dests)
	}
	plan := make([]change, 0, n)
	for _, k := range cur.Keys() {
		if _, want := desired[k]; want {
			continue
		}
		if !r.owned[k] {
			res.Foreign = append(res.Foreign, k)
			continue
		}
		plan = append(plan, change{op: Op{Kind: OpDelService, Service: k}, dep: -1})
		delete(r.owned, k)
		delete(r.known, k)
	}
	for _, k := range desired.Keys() {
		want := desired[k]
		r.owned[k] = true
		have := cur[k]
		dep := -1
		if have == nil {
			dep = len(plan)
			plan = append(plan, change{op: Op{Kind: OpAddService, Service: k}, svc: want, dep: -1})
			have = &Service{Key: k}
		} else if !want.SameParams(have) {
			plan = append(plan, change{op: Op{Kind: OpEditService, Service: k}, svc: want, dep: -1})
		}
		for _, dk := range slices.SortedFunc(maps.Keys(have.Dests), DestKey.Compare) {
			if _, ok := want.Dests[dk]; !ok {
				plan = append(plan, change{op: Op{Kind: OpDelDest, Service: k, Dest: have.Dests[dk]}, dep: dep})
			}
		}
		for _, dk := range slices.SortedFunc(maps.Keys(want.Dests), DestKey.Compare) {
			d := want.Dests[dk].Normalize()
			old, ok := have.Dests[dk]
			switch {
			case !ok:
				plan = append(plan, change{op: Op{Kind: OpAddDest, Service: k, Dest: d}, dep: dep})
			case old.Normalize() != d:
				plan = append(plan, change{op: Op{Kind: OpEditDest, Service: k, Dest: d}, dep: dep})
			}
		}
	}
	var services, dests []*change
	for i := range plan {
		if plan[i].op.Kind < OpDelDest {
			services = append(services, &plan[i])
		} else {
			dests = append(dests, &plan[i])
		}
	}
	r.run(services)
	// A destination of a service that could not be added is not tried.
	dests = slices.DeleteFunc(dests, func(c *change) bool {
		c.skip = c.dep >= 0 && plan[c.dep].op.Err != nil
		return c.skip
	})
	r.run(dests)
	r.learn(desired, plan, read)
	var errs []error
	for _, c := range plan {
		if c.skip {
			continue
		}
		res.Ops = append(res.Ops, c.op)
		if c.op.Err != nil {
			bare := c.op
			bare.Err = nil
			errs = append(errs, fmt.Errorf("ipvs: %s: %w", bare, c.op.Err))
		}
	}
	return res, errors.Join(errs...)
}

// read returns the client's table as far as Apply needs it: every
// service, with the destinations read for those that need it (see Apply),
// the set of those, and the known ones for the others.
func (r *Reconciler) read(desired Table) (Table, map[ServiceKey]bool, error) {
	cur, err := r.c.ServiceList()
	if err != nil {
		return nil, nil, fmt.Errorf("ipvs: reading the table: %w", err)
	}
	for k := range r.known {
		if _, ok := cur[k]; !ok {
			delete(r.known, k) // deleted by others: added again whole
		}
	}
	var need []ServiceKey
	for _, k := range desired.Keys() {
		have := cur[k]
		if have == nil {
			continue
		}
		kn := r.known[k]
		if kn == nil || !kn.SameParams(have) || !sameDests(kn.Dests, desired[k].Dests) {
			need = append(need, k)
			continue
		}
		have.Dests = kn.Dests
	}
	if len(need) > 0 {
		dests, err := r.c.Dests(need)
		if err != nil {
			return nil, nil, fmt.Errorf("ipvs: reading the table: %w", err)
		}
		for _, k := range need {
			cur[k].Dests = dests[k]
			if cur[k].Dests == nil {
				cur[k].Dests = map[DestKey]Dest{}
			}
		}
	}
	read := make(map[ServiceKey]bool, len(need))
	for _, k := range need {
		read[k] = true
	}
	return cur, read, nil
}

// sameDests reports whether two sets of destinations are equal once
// normalized.
func sameDests(a, b map[DestKey]Dest) bool {
	if len(a) != len(b) {
		return false
	}
	for k, d := range a {
		e, ok := b[k]
		if !ok || d.Normalize() != e.Normalize() {
			return false
		}
	}
	return true
}

// learn records what the client holds after the plan ran: a desired
// service whose every change succeeded holds what desired says; one with
// a failed or skipped change is forgotten, to be read again. A known
// service that was neither read nor changed is known already.
func (r *Reconciler) learn(desired Table, plan []change, read map[ServiceKey]bool) {
	failed := map[ServiceKey]bool{}
	changed := map[ServiceKey]bool{}
	for _, c := range plan {
		changed[c.op.Service] = true
		if c.skip || c.op.Err != nil {
			failed[c.op.Service] = true
		}
	}
	for k, want := range desired {
		if failed[k] {
			delete(r.known, k)
			continue
		}
		if r.known[k] != nil && !read[k] && !changed[k] {
			continue
		}
		kn := &Service{Key: k, Scheduler: want.Scheduler, Flags: want.Flags, TimeoutSecs: want.TimeoutSecs,
			Netmask: want.Netmask, Dests: make(map[DestKey]Dest, len(want.Dests))}
		for dk, d := range want.Dests {
			kn.Dests[dk] = d.Normalize()
		}
		r.known[k] = kn
	}
}

// Release deletes every service the reconciler owns (shutdown without
// lvs_flush_on_stop) and forgets them; foreign services stay.
func (r *Reconciler) Release() (Result, error) {
	return r.Apply(Table{})
}

// change is one planned table change: op, with svc the parameters for
// add-service and edit-service, and dep the index in the plan of the
// add-service it needs (-1: none). skip is set when dep failed.
type change struct {
	op   Op
	svc  *Service
	dep  int
	skip bool
}

// batcher is a [Client] that makes many changes in one exchange (the
// kernel's pipelined netlink requests). do makes each change in order
// as the matching Client method would, setting op.Err.
type batcher interface {
	do(cs []*change)
}

// run makes the changes, in one batch when the client can.
func (r *Reconciler) run(cs []*change) {
	if len(cs) == 0 {
		return
	}
	if b, ok := r.c.(batcher); ok {
		b.do(cs)
		return
	}
	for _, c := range cs {
		c.op.Err = apply(r.c, c)
	}
}

// apply makes one change through the Client's methods.
func apply(cl Client, c *change) error {
	k := c.op.Service
	switch c.op.Kind {
	case OpDelService:
		return cl.DelService(k)
	case OpAddService:
		return cl.AddService(c.svc)
	case OpEditService:
		return cl.EditService(c.svc)
	case OpDelDest:
		return cl.DelDest(k, c.op.Dest.Key())
	case OpAddDest:
		return cl.AddDest(k, c.op.Dest)
	case OpEditDest:
		return cl.EditDest(k, c.op.Dest)
	}
	return fmt.Errorf("ipvs: unknown change %d", c.op.Kind)
}
