package ipvs

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"syscall"

	cf "github.com/cloudflare/ipvs"
	"github.com/cloudflare/ipvs/netmask"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// Generic netlink numbers of IPVS (linux/ip_vs.h) that
// github.com/cloudflare/ipvs does not cover.
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
	return &Kernel{conn: conn, family: fam, c: c}, nil
}

// Close releases the netlink sockets.
func (k *Kernel) Close() error {
	err := k.conn.Close()
	if c, ok := k.c.(interface{ Close() error }); ok {
		err = errors.Join(err, c.Close())
	}
	return err
}

// Services reads the whole table.
func (k *Kernel) Services() (Table, error) {
	svcs, err := k.c.Services()
	if errors.Is(err, fs.ErrNotExist) {
		// cloudflare/ipvs reports an empty table as "does not exist".
		return Table{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ipvs: listing services: %w", err)
	}
	t := make(Table, len(svcs))
	for _, s := range svcs {
		out := fromCF(s.Service)
		dests, err := k.c.Destinations(s.Service)
		if err != nil && !errors.Is(err, fs.ErrNotExist) { // none: "does not exist"
			return nil, fmt.Errorf("ipvs: listing destinations of %s: %w", out.Key, err)
		}
		for _, d := range dests {
			dd := Dest{Addr: d.Address, Port: d.Port, Method: Method(d.FwdMethod), Weight: d.Weight,
				UThreshold: d.UpperThreshold, LThreshold: d.LowerThreshold, TunnelType: TunnelType(d.TunnelType),
				TunnelPort: d.TunnelPort, TunnelFlags: uint16(d.TunnelFlags)}.Normalize()
			out.Dests[dd.Key()] = dd
		}
		t[out.Key] = out
	}
	return t, nil
}

func fromCF(s cf.Service) *Service {
	out := &Service{Key: ServiceKey{Family: Family(s.Family), FWMark: s.FWMark}, Scheduler: s.Scheduler,
		Flags: uint32(s.Flags) &^ 0x0002, TimeoutSecs: s.Timeout, Dests: map[DestKey]Dest{}}
	if s.FWMark == 0 {
		out.Key.Protocol, out.Key.Addr, out.Key.Port = Protocol(s.Protocol), s.Address, s.Port
	}
	out.Netmask = DefaultNetmask(out.Key.Family)
	if s.Netmask.IsValid() {
		if out.Key.Family == IPv6 {
			out.Netmask = uint32(s.Netmask.Bits())
		} else if b := s.Netmask.AsSlice(); len(b) == 4 {
			out.Netmask = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		}
	}
	return out
}

func toCF(s *Service) cf.Service {
	out := cf.Service{Scheduler: s.Scheduler, Timeout: s.TimeoutSecs, Flags: cf.Flags(s.Flags), Family: cf.AddressFamily(s.Key.Family),
		FWMark: s.Key.FWMark, Address: s.Key.Addr, Port: s.Key.Port, Protocol: cf.Protocol(s.Key.Protocol)}
	if s.Key.Family == IPv6 {
		out.Netmask = netmask.MaskFrom(int(s.Netmask), 128)
	} else {
		m := s.Netmask
		out.Netmask = netmask.MaskFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)})
	}
	return out
}

// keyOnly is the service as a lookup key for the dest and delete commands.
func keyOnly(k ServiceKey) cf.Service {
	return cf.Service{Family: cf.AddressFamily(k.Family), FWMark: k.FWMark, Address: k.Addr, Port: k.Port, Protocol: cf.Protocol(k.Protocol)}
}

func toCFDest(d Dest) cf.Destination {
	return cf.Destination{Address: d.Addr, Port: d.Port, Family: cf.AddressFamily(familyOf(d.Addr)), FwdMethod: cf.ForwardType(d.Method),
		Weight: d.Weight, UpperThreshold: d.UThreshold, LowerThreshold: d.LThreshold, TunnelType: cf.TunnelType(d.TunnelType),
		TunnelPort: d.TunnelPort, TunnelFlags: cf.TunnelFlags(d.TunnelFlags)}
}

// AddService adds s without its destinations.
func (k *Kernel) AddService(s *Service) error {
	return wrap("adding service", s.Key, k.c.CreateService(toCF(s)))
}

// EditService changes the parameters of s in place.
func (k *Kernel) EditService(s *Service) error {
	return wrap("editing service", s.Key, k.c.UpdateService(toCF(s)))
}

// DelService deletes a service and its destinations.
func (k *Kernel) DelService(key ServiceKey) error {
	return wrap("deleting service", key, k.c.RemoveService(keyOnly(key)))
}

// AddDest adds a destination.
func (k *Kernel) AddDest(key ServiceKey, d Dest) error {
	return wrap("adding destination "+d.Key().String()+" to", key, k.c.CreateDestination(keyOnly(key), toCFDest(d)))
}

// EditDest changes a destination in place.
func (k *Kernel) EditDest(key ServiceKey, d Dest) error {
	return wrap("editing destination "+d.Key().String()+" of", key, k.c.UpdateDestination(keyOnly(key), toCFDest(d)))
}

// DelDest deletes a destination.
func (k *Kernel) DelDest(key ServiceKey, dk DestKey) error {
	d := cf.Destination{Address: dk.Addr(), Port: dk.Port(), Family: cf.AddressFamily(familyOf(dk.Addr()))}
	return wrap("deleting destination "+dk.String()+" of", key, k.c.RemoveDestination(keyOnly(key), d))
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
