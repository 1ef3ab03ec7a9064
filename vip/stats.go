package vip

import "sync/atomic"

// ManagerStats is a snapshot of a Manager's counters since it was made.
type ManagerStats struct {
	AddrsAdded    uint64 `json:"addrs_added"`   // addresses the kernel accepted (RTM_NEWADDR)
	AddrsRemoved  uint64 `json:"addrs_removed"` // addresses removed (RTM_DELADDR)
	RoutesAdded   uint64 `json:"routes_added"`
	RoutesRemoved uint64 `json:"routes_removed"`
	RulesAdded    uint64 `json:"rules_added"`
	RulesRemoved  uint64 `json:"rules_removed"`
	Errors        uint64 `json:"errors"` // entries that failed, of any kind
	// InterfaceLookups counts interfaces resolved by name (RTM_GETLINK)
	// to learn their index, which is then cached.
	InterfaceLookups uint64 `json:"interface_lookups"`
}

type managerCounters struct {
	addrsAdded, addrsRemoved   atomic.Uint64
	routesAdded, routesRemoved atomic.Uint64
	rulesAdded, rulesRemoved   atomic.Uint64
	errors                     atomic.Uint64
	lookups                    atomic.Uint64
}

func (c *managerCounters) snapshot() ManagerStats {
	return ManagerStats{
		AddrsAdded:    c.addrsAdded.Load(),
		AddrsRemoved:  c.addrsRemoved.Load(),
		RoutesAdded:   c.routesAdded.Load(),
		RoutesRemoved: c.routesRemoved.Load(),
		RulesAdded:    c.rulesAdded.Load(),
		RulesRemoved:  c.rulesRemoved.Load(),
		Errors:        c.errors.Load(),

		InterfaceLookups: c.lookups.Load(),
	}
}

// AnnouncerStats is a snapshot of an Announcer's counters since it was made.
type AnnouncerStats struct {
	GARPsSent  uint64 // gratuitous ARP frames written
	NAsSent    uint64 // unsolicited neighbour advertisements written
	SendErrors uint64 // ARP or NA writes (or socket opens) that failed
	// SocketsOpened counts the ARP and ICMPv6 sockets opened, by Prepare
	// or by an Announce that found none.
	SocketsOpened uint64
}

type announcerCounters struct {
	garps, nas, sendErrors, socketsOpened atomic.Uint64
}

func (c *announcerCounters) snapshot() AnnouncerStats {
	return AnnouncerStats{
		GARPsSent:     c.garps.Load(),
		NAsSent:       c.nas.Load(),
		SendErrors:    c.sendErrors.Load(),
		SocketsOpened: c.socketsOpened.Load(),
	}
}
