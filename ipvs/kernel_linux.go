package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os/exec"
	"syscall"

	cf "github.com/cloudflare/ipvs"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// Generic netlink numbers of IPVS (linux/ip_vs.h).
const (
	genlName    = "IPVS"
	genlVersion = 1
	cmdFlush    = 17 // IPVS_CMD_FLUSH
)

// Kernel is the [Client] over the kernel's IPVS generic netlink family. It
// is not safe for concurrent use.
type Kernel struct {
	conn   *genetlink.Conn
	family genetlink.Family
	c      cf.Client
	p      *pipe
}

var _ Client = (*Kernel)(nil)

// Dial connects to the kernel's IPVS. When the IPVS family is missing it
// runs "modprobe ip_vs" once, as keepalived does, and tries again; a
// kernel still without it gives an error wrapping [ErrNoIPVS].
func Dial() (*Kernel, error) {
	conn, err := genetlink.Dial(nil)
	if err != nil {
		return nil, fmt.Errorf("ipvs: generic netlink: %w", err)
	}
	fam, err := conn.GetFamily(genlName)
	if err != nil {
		if path, lerr := exec.LookPath("modprobe"); lerr == nil {
			_ = exec.Command(path, "ip_vs").Run()
			fam, err = conn.GetFamily(genlName)
		}
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: %v", ErrNoIPVS, err)
	}
	c, err := cf.New()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ipvs: %w", err)
	}
	p, err := newPipe(fam.ID)
	if err != nil {
		conn.Close()
		if cc, ok := c.(interface{ Close() error }); ok {
			cc.Close()
		}
		return nil, err
	}
	return &Kernel{conn: conn, family: fam, c: c, p: p}, nil
}

// Close releases the netlink sockets.
func (k *Kernel) Close() error {
	err := errors.Join(k.conn.Close(), k.p.close())
	if c, ok := k.c.(interface{ Close() error }); ok {
		err = errors.Join(err, c.Close())
	}
	return err
}

// Generic netlink numbers of the IPVS table (linux/ip_vs.h).
const (
	cmdNewService = 1  // IPVS_CMD_NEW_SERVICE
	cmdSetService = 2  // IPVS_CMD_SET_SERVICE
	cmdDelService = 3  // IPVS_CMD_DEL_SERVICE
	cmdGetService = 4  // IPVS_CMD_GET_SERVICE
	cmdNewDest    = 5  // IPVS_CMD_NEW_DEST
	cmdSetDest    = 6  // IPVS_CMD_SET_DEST
	cmdDelDest    = 7  // IPVS_CMD_DEL_DEST
	cmdGetDest    = 8  // IPVS_CMD_GET_DEST
	attrService   = 1  // IPVS_CMD_ATTR_SERVICE (nested)
	attrDest      = 2  // IPVS_CMD_ATTR_DEST (nested)
	svcAF         = 1  // u16
	svcProtocol   = 2  // u16
	svcAddr       = 3  // 4 or 16 bytes
	svcPort       = 4  // u16, network order
	svcFWMark     = 5  // u32
	svcSchedName  = 6  // NUL-terminated string
	svcFlags      = 7  // struct ip_vs_flags: flags, mask (u32 each)
	svcTimeout    = 8  // u32
	svcNetmask    = 9  // IPv4: the mask, network order; IPv6: the prefix length
	destAddr      = 1  // 4 or 16 bytes
	destPort      = 2  // u16, network order
	destFwdMethod = 3  // u32
	destWeight    = 4  // u32
	destUThresh   = 5  // u32
	destLThresh   = 6  // u32
	destAF        = 11 // u16
	destTunType   = 13 // u8
	destTunPort   = 14 // u16, network order
	destTunFlags  = 15 // u16
)

// Services reads the whole table: ServiceList, then Dests of every
// service.
func (k *Kernel) Services() (Table, error) {
	t, err := k.ServiceList()
	if err != nil {
		return nil, err
	}
	dests, err := k.Dests(t.Keys())
	if err != nil {
		return nil, err
	}
	for key, s := range t {
		s.Dests = dests[key]
	}
	return t, nil
}

// ServiceList reads the services with their parameters, without their
// destinations: one dump.
func (k *Kernel) ServiceList() (Table, error) {
	all := &request{cmd: cmdGetService, dump: true}
	k.p.run([]*request{all})
	if all.err != nil {
		return nil, fmt.Errorf("ipvs: listing services: %w", all.err)
	}
	t := make(Table, len(all.parts))
	for _, part := range all.parts {
		s, err := parseService(part)
		if err != nil {
			return nil, fmt.Errorf("ipvs: listing services: %w", err)
		}
		t[s.Key] = s
	}
	return t, nil
}

// Dests reads the destinations of the services named: one dump each, one
// at a time (the kernel runs one dump at a time per socket). A service
// that does not exist has none: the kernel ends its dump empty.
func (k *Kernel) Dests(keys []ServiceKey) (map[ServiceKey]map[DestKey]Dest, error) {
	reqs := make([]*request, len(keys))
	var buf attrs
	for i, key := range keys {
		start := len(buf)
		buf = serviceKey(buf, key)
		reqs[i] = &request{cmd: cmdGetDest, dump: true, data: buf[start:len(buf):len(buf)]}
	}
	k.p.run(reqs)
	out := make(map[ServiceKey]map[DestKey]Dest, len(keys))
	for i, key := range keys {
		r := reqs[i]
		if r.err != nil {
			return nil, fmt.Errorf("ipvs: listing destinations of %s: %w", key, r.err)
		}
		ds := make(map[DestKey]Dest, len(r.parts))
		for _, part := range r.parts {
			d, err := parseDest(part, key.Family)
			if err != nil {
				return nil, fmt.Errorf("ipvs: listing destinations of %s: %w", key, err)
			}
			ds[d.Key()] = d
		}
		out[key] = ds
	}
	return out, nil
}

// parseService reads one service of a dump.
func parseService(b []byte) (*Service, error) {
	s := &Service{Dests: map[DestKey]Dest{}}
	var addr, mask []byte
	err := decodeNested(b, attrService, func(ad *netlink.AttributeDecoder) {
		switch ad.Type() {
		case svcAF:
			s.Key.Family = Family(ad.Uint16())
		case svcProtocol:
			s.Key.Protocol = Protocol(ad.Uint16())
		case svcAddr:
			addr = ad.Bytes()
		case svcPort:
			s.Key.Port = be16(ad.Bytes())
		case svcFWMark:
			s.Key.FWMark = ad.Uint32()
		case svcSchedName:
			s.Scheduler = ad.String()
		case svcFlags:
			if f := ad.Bytes(); len(f) == 8 {
				s.Flags = binary.NativeEndian.Uint32(f) &^ 0x0002 // IP_VS_SVC_F_HASHED
			}
		case svcTimeout:
			s.TimeoutSecs = ad.Uint32()
		case svcNetmask:
			mask = ad.Bytes()
		}
	})
	if err != nil {
		return nil, err
	}
	if s.Key.FWMark != 0 {
		s.Key.Protocol, s.Key.Port = 0, 0
	} else {
		a, ok := parseAddr(addr, s.Key.Family)
		if !ok {
			return nil, fmt.Errorf("service of family %s with a %d-byte address", s.Key.Family, len(addr))
		}
		s.Key.Addr = a
	}
	s.Netmask = DefaultNetmask(s.Key.Family)
	if len(mask) == 4 {
		if s.Key.Family == IPv6 {
			s.Netmask = binary.NativeEndian.Uint32(mask)
		} else {
			s.Netmask = binary.BigEndian.Uint32(mask)
		}
	}
	return s, nil
}

// parseDest reads one destination of a dump; fam is its service's family
// (kernels before 3.18 do not say the destination's).
func parseDest(b []byte, fam Family) (Dest, error) {
	var d Dest
	var addr []byte
	err := decodeNested(b, attrDest, func(ad *netlink.AttributeDecoder) {
		switch ad.Type() {
		case destAddr:
			addr = ad.Bytes()
		case destPort:
			d.Port = be16(ad.Bytes())
		case destFwdMethod:
			d.Method = Method(ad.Uint32())
		case destWeight:
			d.Weight = ad.Uint32()
		case destUThresh:
			d.UThreshold = ad.Uint32()
		case destLThresh:
			d.LThreshold = ad.Uint32()
		case destAF:
			fam = Family(ad.Uint16())
		case destTunType:
			d.TunnelType = TunnelType(ad.Uint8())
		case destTunPort:
			d.TunnelPort = be16(ad.Bytes())
		case destTunFlags:
			d.TunnelFlags = ad.Uint16()
		}
	})
	if err != nil {
		return Dest{}, err
	}
	a, ok := parseAddr(addr, fam)
	if !ok {
		return Dest{}, fmt.Errorf("destination of family %s with a %d-byte address", fam, len(addr))
	}
	d.Addr = a
	return d.Normalize(), nil
}

// decodeNested calls f for each attribute nested in attribute outer of b.
func decodeNested(b []byte, outer uint16, f func(*netlink.AttributeDecoder)) error {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return err
	}
	for ad.Next() {
		if ad.Type() != outer {
			continue
		}
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			for nad.Next() {
				f(nad)
			}
			return nad.Err()
		})
	}
	return ad.Err()
}

func be16(b []byte) uint16 {
	if len(b) != 2 {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

// parseAddr reads an address the kernel sends in 16 bytes whatever the
// family (IPv4 in the first 4).
func parseAddr(b []byte, fam Family) (netip.Addr, bool) {
	switch {
	case fam == IPv4 && len(b) >= 4:
		return netip.AddrFrom4([4]byte(b[:4])), true
	case fam == IPv6 && len(b) == 16:
		return netip.AddrFrom16([16]byte(b)), true
	}
	return netip.Addr{}, false
}

// serviceKey appends the service attribute naming k, as the destination
// commands and IPVS_CMD_DEL_SERVICE take it.
func serviceKey(a attrs, k ServiceKey) attrs {
	return a.nest(attrService, func(a attrs) attrs { return serviceKeyAttrs(a, k) })
}

func serviceKeyAttrs(a attrs, k ServiceKey) attrs {
	a = a.u16(svcAF, uint16(k.Family))
	if k.IsFWMark() {
		return a.u32(svcFWMark, k.FWMark)
	}
	a = a.u16(svcProtocol, uint16(k.Protocol))
	a = a.put(svcAddr, k.Addr.AsSlice())
	return a.be16(svcPort, k.Port)
}

// service appends the whole service attribute of s, as
// IPVS_CMD_NEW_SERVICE and IPVS_CMD_SET_SERVICE take it.
func service(a attrs, s *Service) attrs {
	return a.nest(attrService, func(a attrs) attrs {
		a = serviceKeyAttrs(a, s.Key)
		a = a.str(svcSchedName, s.Scheduler)
		var flags [8]byte
		binary.NativeEndian.PutUint32(flags[:], s.Flags)
		binary.NativeEndian.PutUint32(flags[4:], 0xffffffff) // the mask: set every flag as given
		a = a.put(svcFlags, flags[:])
		a = a.u32(svcTimeout, s.TimeoutSecs)
		var mask [4]byte
		if s.Key.Family == IPv6 {
			binary.NativeEndian.PutUint32(mask[:], s.Netmask)
		} else {
			binary.BigEndian.PutUint32(mask[:], s.Netmask)
		}
		return a.put(svcNetmask, mask[:])
	})
}

// dest appends the destination attribute of d; with full false only its
// key (IPVS_CMD_DEL_DEST).
func dest(a attrs, d Dest, full bool) attrs {
	return a.nest(attrDest, func(a attrs) attrs {
		a = a.u16(destAF, uint16(familyOf(d.Addr)))
		a = a.put(destAddr, d.Addr.AsSlice())
		a = a.be16(destPort, d.Port)
		if !full {
			return a
		}
		a = a.u32(destFwdMethod, uint32(d.Method))
		a = a.u32(destWeight, d.Weight)
		a = a.u32(destUThresh, d.UThreshold)
		a = a.u32(destLThresh, d.LThreshold)
		a = a.u8(destTunType, uint8(d.TunnelType))
		a = a.be16(destTunPort, d.TunnelPort)
		return a.u16(destTunFlags, d.TunnelFlags)
	})
}

// verbs are the words of a change's error, as "adding destination X to".
var verbs = map[OpKind]string{OpDelService: "deleting service", OpAddService: "adding service",
	OpEditService: "editing service", OpDelDest: "deleting destination %s of", OpAddDest: "adding destination %s to",
	OpEditDest: "editing destination %s of"}

// do makes the changes in pipelined batches (the Reconciler's fast path);
// each change's error is the one its Client method gives.
func (k *Kernel) do(cs []*change) {
	reqs := make([]*request, len(cs))
	buf := make(attrs, 0, 160*len(cs)) // about a destination change each
	for i, c := range cs {
		start := len(buf)
		r := &request{}
		switch c.op.Kind {
		case OpDelService:
			r.cmd, buf = cmdDelService, serviceKey(buf, c.op.Service)
		case OpAddService:
			r.cmd, buf = cmdNewService, service(buf, c.svc)
		case OpEditService:
			r.cmd, buf = cmdSetService, service(buf, c.svc)
		case OpDelDest:
			r.cmd, buf = cmdDelDest, dest(serviceKey(buf, c.op.Service), c.op.Dest, false)
		case OpAddDest:
			r.cmd, buf = cmdNewDest, dest(serviceKey(buf, c.op.Service), c.op.Dest, true)
		case OpEditDest:
			r.cmd, buf = cmdSetDest, dest(serviceKey(buf, c.op.Service), c.op.Dest, true)
		}
		r.data = buf[start:len(buf):len(buf)]
		reqs[i] = r
	}
	k.p.run(reqs)
	for i, c := range cs {
		what := verbs[c.op.Kind]
		if c.op.Kind >= OpDelDest {
			what = fmt.Sprintf(what, c.op.Dest.Key())
		}
		c.op.Err = wrap(what, c.op.Service, reqs[i].err)
	}
}

// one makes a single change.
func (k *Kernel) one(kind OpKind, key ServiceKey, s *Service, d Dest) error {
	c := &change{op: Op{Kind: kind, Service: key, Dest: d}, svc: s}
	k.do([]*change{c})
	return c.op.Err
}

// AddService adds s without its destinations.
func (k *Kernel) AddService(s *Service) error { return k.one(OpAddService, s.Key, s, Dest{}) }

// EditService changes the parameters of s in place.
func (k *Kernel) EditService(s *Service) error { return k.one(OpEditService, s.Key, s, Dest{}) }

// DelService deletes a service and its destinations.
func (k *Kernel) DelService(key ServiceKey) error { return k.one(OpDelService, key, nil, Dest{}) }

// AddDest adds a destination.
func (k *Kernel) AddDest(key ServiceKey, d Dest) error { return k.one(OpAddDest, key, nil, d) }

// EditDest changes a destination in place.
func (k *Kernel) EditDest(key ServiceKey, d Dest) error { return k.one(OpEditDest, key, nil, d) }

// DelDest deletes a destination.
func (k *Kernel) DelDest(key ServiceKey, dk DestKey) error {
	return k.one(OpDelDest, key, nil, Dest{Addr: dk.Addr(), Port: dk.Port()})
}

// Flush deletes every service (IPVS_CMD_FLUSH).
func (k *Kernel) Flush() error {
	_, err := k.conn.Execute(genetlink.Message{Header: genetlink.Header{Command: cmdFlush, Version: genlVersion}},
		k.family.ID, netlink.Request|netlink.Acknowledge)
	if err != nil {
		return fmt.Errorf("ipvs: flush: %w", err)
	}
	return nil
}

// Timeouts reads the kernel's connection timeouts.
func (k *Kernel) Timeouts() (Timeouts, error) {
	c, err := k.c.Config()
	if err != nil {
		return Timeouts{}, fmt.Errorf("ipvs: reading timeouts: %w", err)
	}
	return Timeouts{TCP: c.TCPTimeout, TCPFin: c.TCPFinTimeout, UDP: c.UDPTimeout}, nil
}

// SetTimeouts sets the connection timeouts; a zero field keeps the
// kernel's current value (the kernel itself ignores zeros).
func (k *Kernel) SetTimeouts(t Timeouts) error {
	if err := k.c.SetConfig(cf.Config{TCPTimeout: t.TCP, TCPFinTimeout: t.TCPFin, UDPTimeout: t.UDP}); err != nil {
		return fmt.Errorf("ipvs: setting timeouts: %w", err)
	}
	return nil
}

func wrap(what string, key ServiceKey, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.ESRCH) {
		// The kernel's "no such service".
		return fmt.Errorf("ipvs: %s %s: %w (%w)", what, key, err, fs.ErrNotExist)
	}
	return fmt.Errorf("ipvs: %s %s: %w", what, key, err)
}
