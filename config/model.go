package config

import (
	"fmt"
	"net/netip"
	"time"
)

// Pos is a position in a configuration file. Line and Col are 1-based; a
// token that came out of a parameter or ~SEQ expansion keeps the position
// of the text it was expanded from.
type Pos struct {
	File string
	Line int
	Col  int
}

// String returns "file:line:col".
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// IsValid reports whether p points into a file.
func (p Pos) IsValid() bool { return p.Line > 0 }

// Config is the effective configuration after includes, conditionals,
// parameters, defaults and inheritance. Every node carries the Pos of the
// keyword that introduced it.
type Config struct {
	Global         Global
	Instances      []*Instance
	SyncGroups     []*SyncGroup
	Scripts        map[string]*Script
	TrackFiles     map[string]*TrackFile
	TrackProcesses map[string]*TrackProcess

	StaticAddresses []Address
	StaticRoutes    []Route
	StaticRules     []Rule

	// IfaceDelays is interface_up_down_delays: per interface, how long a
	// link must stay down (up) before its change is acted on. Resolved:
	// each delay is below every Master_Down_Interval that depends on it.
	IfaceDelays []IfaceDelay

	VirtualServerGroups map[string]*VirtualServerGroup
	VirtualServers      []*VirtualServer
	SSL                 *SSL

	// ConntrackSync is vigil's own top-level block (conntrack.go); nil when
	// absent.
	ConntrackSync *ConntrackSync

	// Process holds the top-level process options (net_namespace, instance, ...).
	Process Process

	// Extra keeps every keyword that was accepted but is not modelled
	// (top-level blocks such as bfd_instance, garp_group, linkbeat_interfaces),
	// so that Dump can print it back.
	Extra []Raw
}

// Raw is an accepted keyword that vigil parses but does not model: the
// keyword, its arguments and, for a block, its children.
type Raw struct {
	Pos     Pos
	Keyword string
	Args    []string
	Block   []Raw // non-nil (possibly empty) when the keyword opened a block
	IsBlock bool
}

// Process holds the top-level process options of keepalived.
type Process struct {
	NetNamespace     string
	NetNamespaceIPVS string
	InstanceName     string
	UsePidDir        bool
}

// Global is global_defs.
type Global struct {
	Pos      Pos
	RouterID string
	// VMACPrefix names use_vmac interfaces without a name of their own:
	// "<VMACPrefix>.<VRID>"; "" means "vrrp".
	VMACPrefix string

	VRRPVersion int // 2 unless vrrp_version 3
	Strict      bool

	GARPMasterDelay         time.Duration // 5s
	GARPMasterRepeat        int           // 5
	GARPMasterRefresh       time.Duration // 0 = off
	GARPMasterRefreshRepeat int           // 1
	GARPLowerPrioDelay      time.Duration // = GARPMasterDelay unless set
	GARPLowerPrioRepeat     int           // = GARPMasterRepeat unless set
	GARPInterval            time.Duration // 0 = back to back
	GNAInterval             time.Duration // 0 = back to back
	GARPExtraIf             time.Duration // vrrp_garp_extra_if; 0 = off
	GARPExtraIfAll          bool          // vrrp_garp_extra_if all

	McastGroup4 netip.Addr // 224.0.0.18
	McastGroup6 netip.Addr // ff02::12

	EnableScriptSecurity bool
	ScriptUser           string // "" = keepalived_script if it exists, else root
	ScriptGroup          string

	NotifyFIFO           *Command // notify_fifo PATH [user [group]] (Argv[0] is the FIFO path)
	VRRPNotifyFIFO       *Command
	NotifyFIFOScript     *Command
	VRRPNotifyFIFOScript *Command
	LVSNotifyFIFO        *Command // lvs_notify_fifo: the checkers' VS / RS lines (notify_fifo gets them too)
	LVSNotifyFIFOScript  *Command
	RSInitNotifies       bool // rs_init_notifies: notify_up and RS UP for the real servers up at start

	VRRPStartupDelay time.Duration
	DefaultInterface string

	// StartupScript runs before VRRP starts, ShutdownScript after
	// everything has stopped; each is killed at its timeout (10 s unless
	// set, as in keepalived).
	StartupScript         *Command
	StartupScriptTimeout  time.Duration
	ShutdownScript        *Command
	ShutdownScriptTimeout time.Duration

	// NFTables is the VIP filter's nftables table (nftables [TABLE]); ""
	// means vigil's default. The filter exists whenever an instance is not
	// the address owner and has no accept mode (no_accept, vrrp_strict).
	NFTables         string
	NFTablesPriority int  // nftables_priority; -1 unless set
	NFTablesCounters bool // nftables_counters

	// VRRPPriority is the nice value vigild gives itself at start and at a
	// reload when it runs VRRP (vrrp_priority, -20..19); nil leaves it as
	// inherited.
	VRRPPriority *int

	LowerPrioNoAdvert    bool
	HigherPrioSendAdvert bool
	SkipCheckAdvAddr     bool
	CheckUnicastSrc      bool
	DownTimerAdverts     int // 3
	DynamicInterfaces    bool

	NotificationEmail     []string
	NotificationEmailFrom string
	SMTPServer            string
	SMTPServerPort        int
	SMTPConnectTimeout    time.Duration // 30s
	SMTPHeloName          string
	// SMTPAlert (smtp_alert), SMTPAlertVRRP (smtp_alert_vrrp) and
	// SMTPAlertChecker (smtp_alert_checker) are the defaults of the
	// instances', groups', virtual servers' and real servers' smtp_alert:
	// the specific one when set, else smtp_alert, else off (on for real
	// servers, as in keepalived).
	SMTPAlert        bool
	SMTPAlertVRRP    bool
	SMTPAlertChecker bool
	// NoEmailFaults (no_email_faults): entering FAULT sends no mail.
	NoEmailFaults bool
	// NoCheckerEmails (no_checker_emails): a checker's change mails only
	// when it changes its real server's state.
	NoCheckerEmails bool

	// LVSFlush (lvs_flush): empty the whole IPVS table once, at the first
	// start, before the virtual servers are programmed.
	LVSFlush bool
	// LVSTimeouts (lvs_timeouts) are the IPVS connection timeouts in
	// seconds; 0 leaves the kernel's value.
	LVSTimeouts LVSTimeouts
	// LVSFlushOnStop (lvs_flush_on_stop) is what goes from IPVS at stop.
	LVSFlushOnStop LVSFlushOnStop
	// LVSSyncDaemon (lvs_sync_daemon) is the kernel's connection sync
	// daemon; nil without one.
	LVSSyncDaemon *LVSSyncDaemon

	// Extra keeps accepted but unmodelled global_defs keywords.
	Extra []Raw

	set map[string]Pos // keyword -> position where it was set
}

// LVSTimeouts is lvs_timeouts, in seconds (0 = the kernel's value).
type LVSTimeouts struct{ TCP, TCPFin, UDP int }

// LVSFlushOnStop is lvs_flush_on_stop.
type LVSFlushOnStop int

// What lvs_flush_on_stop asks at stop.
const (
	// FlushOnStopNone (the default): each real server is removed, then its
	// service, with omega's notifications for both.
	FlushOnStopNone LVSFlushOnStop = iota
	// FlushOnStopVS (lvs_flush_on_stop VS): each service is deleted with
	// its real servers at once; omega notifies the services only.
	FlushOnStopVS
	// FlushOnStopAll (bare lvs_flush_on_stop): the whole IPVS table is
	// flushed, foreign services too; omega notifies the services only.
	FlushOnStopAll
)

// LVSSyncDaemon is lvs_sync_daemon: the kernel's IPVS connection sync
// daemon on Interface. With Instance, it runs as master while that VRRP
// instance is MASTER and as backup otherwise; without, both run.
type LVSSyncDaemon struct {
	Pos       Pos
	Interface string
	Instance  string
	// SyncID is the sync id; unless SyncIDSet, the instance's VRID (0
	// without an instance), as keepalived.
	SyncID    int
	SyncIDSet bool
	// MaxLen, Port and TTL are 0 and Group invalid for the kernel's
	// defaults.
	MaxLen, Port, TTL int
	Group             netip.Addr
}

// Instance is one vrrp_instance with every inherited value resolved.
type Instance struct {
	Pos            Pos
	Name           string
	WantMaster     bool // state MASTER
	Interface      string
	VRID           int           // 1..255
	Priority       int           // 1..255, default 100
	AdvertInterval time.Duration // default 1s; v3 rounded to 10 ms
	Version        int           // resolved: 3 for IPv6, else instance version, else global
	Preempt        bool          // default true; false with nopreempt
	PreemptDelay   time.Duration
	Accept         bool // resolved: accept mode (true unless strict, or explicit no_accept)
	IPv6           bool // family: from the VIPs or native_ipv6

	VIPs         []Address
	ExcludedVIPs []Address
	Routes       []Route
	Rules        []Rule

	McastSrcIP   netip.Addr
	McastDstIP   netip.Addr // resolved: instance mcast_dst_ip, else the global group for the family
	UnicastSrcIP netip.Addr
	UnicastPeers []UnicastPeer
	UnicastTTL   int // 255
	// UnicastNoPeerFault: unicast_fault_no_peer is set and no unicast
	// peer is left. keepalived then holds the instance in FAULT for as
	// long as this configuration runs, instead of falling back to
	// multicast.
	UnicastNoPeerFault bool
	// TrackSrcIP: track_src_ip with a configured source address (the
	// unicast_src_ip of a unicast instance, else mcast_src_ip): the
	// instance is in FAULT while that address is missing from its
	// interface.
	TrackSrcIP bool

	Auth             *Auth // nil: no authentication (also when ignored for v3 or strict)
	DontTrackPrimary bool

	// Resolved (inherited from global_defs unless set in the instance).
	GARPMasterDelay         time.Duration
	GARPMasterRepeat        int
	GARPMasterRefresh       time.Duration
	GARPMasterRefreshRepeat int
	GARPLowerPrioDelay      time.Duration
	GARPLowerPrioRepeat     int
	// GARPExtraIf: garp_extra_if (else vrrp_garp_extra_if). While
	// MASTER, every GARPExtraIf one GARP/NA goes out, for the first VIP
	// there, on each interface of the VIPs other than the one the
	// instance's own VIPs are on (with all), and on that one too when it
	// is the instance's VMAC with vmac_xmit_base. Zero when neither
	// applies.
	GARPExtraIf    time.Duration
	GARPExtraIfAll bool // all was given

	LowerPrioNoAdvert    bool
	HigherPrioSendAdvert bool
	Strict               bool
	SkipCheckAdvAddr     bool
	CheckUnicastSrc      bool
	DownTimerAdverts     int // 3

	TrackInterfaces []TrackRef
	TrackScripts    []TrackRef
	TrackFiles      []TrackRef
	TrackProcesses  []TrackRef

	Notify    Notify
	SMTPAlert bool // smtp_alert, or its global default: mail on state changes
	UseVMAC   *VMAC
	SyncGroup string // filled from the vrrp_sync_group that lists this instance

	// Extra keeps accepted but unmodelled instance keywords.
	Extra []Raw

	set          map[string]Pos // keyword -> position where it was set in the instance
	track        [4][]TrackRef  // interface, script, file, process while parsing
	stateSet     bool
	acceptSet    bool
	vmacXmitBase bool
}

// VMAC is use_vmac [IFNAME] [MAC] with vmac_xmit_base.
type VMAC struct {
	Pos      Pos
	Name     string // "" = vrrp.<VRID>
	MAC      string // "" = RFC 5798 §7.3 virtual MAC
	XmitBase bool
}

// Address is one line of virtual_ipaddress, virtual_ipaddress_excluded or
// static_ipaddress.
type Address struct {
	Pos           Pos
	Prefix        netip.Prefix // /32 or /128 when no length was given
	Dev           string       // resolved: the instance interface when not given (VIPs only)
	Broadcast     netip.Addr
	BroadcastAuto bool // brd +
	Scope         string
	Label         string
	Peer          netip.Prefix
	NoDAD         bool
	NoPrefixRoute bool
	NoTrack       bool
	UseVMAC       bool
	Home          bool
	MngTmpAddr    bool
	AutoJoin      bool
	TrackGroup    string // static_ipaddress only
	// PreferredLft is the preferred lifetime in seconds (preferred_lft N);
	// nil means forever. 0 deprecates the address as a source.
	PreferredLft *int
}

// Route is one line of virtual_routes or static_routes.
type Route struct {
	Pos     Pos
	Src     netip.Addr
	Dst     netip.Prefix
	Via     netip.Addr
	Dev     string
	Table   int // 0 = main
	Metric  int
	Scope   string
	Proto   string
	Type    string // "" (unicast), blackhole, unreachable, prohibit, throw, local, broadcast, ...
	OnLink  bool
	NoTrack bool
	MTU     int
	// Protocol is Proto resolved to its number (rt_protos names); 0 when
	// not given or the route is tracked (keepalived's 18 is then used).
	Protocol int
	Tos      int    // tos / dsfield
	Realm    uint32 // realms FROM/TO: FROM<<16 | TO
	// Metrics are the RTAX_* options, in the units `ip route add` sends.
	Metrics RouteMetrics
	// NextHops are the paths of a multipath route (nexthop ...).
	NextHops []NextHop
	// Extra keeps the words of the options not listed above, in order, so that
	// Dump prints them back; those vigil applies are also resolved into
	// the fields above, the others drew a notice.
	Extra []string
}

// RouteMetrics are a route's RTAX_* metrics in the kernel's units (rtt in
// 1/8 ms, rttvar in 1/4 ms, rto_min in ms, as `ip route add` sends them).
// Its fields are vip.RouteMetrics's, so that one converts to the other.
type RouteMetrics struct {
	MTU              int
	MTULock          bool
	AdvMSS           int
	Window           int
	RTT              int
	RTTVar           int
	Ssthresh         int
	Cwnd             int
	Hoplimit         int
	Reordering       int
	InitCwnd         int
	InitRwnd         int
	RTOMin           int
	RTOMinLock       bool
	QuickACK         int
	Features         int
	Congctl          string
	FastOpenNoCookie int
}

// NextHop is one "nexthop via A dev I weight W [onlink]" of a route.
type NextHop struct {
	Via    netip.Addr
	Dev    string
	Weight int // 0 when not given (1)
	OnLink bool
}

// Rule is one line of virtual_rules or static_rules.
type Rule struct {
	Pos        Pos
	From, To   netip.Prefix
	Table      int
	Preference int
	IIF, OIF   string
	FWMark     uint32
	FWMask     uint32
	HasFWMask  bool
	NoTrack    bool
	IPv6       bool
	// The selectors and actions below are resolved from the words kept in
	// Extra (which Dump prints back).
	Not                  bool
	Goto                 int
	Type                 string // blackhole, unreachable, prohibit, nop; "" looks up Table
	Tos                  uint8
	Realm                uint32
	IPProto              int
	Sport, Dport         [2]uint16 // inclusive range; zero is any
	UIDRange             [2]uint32
	HasUIDRange          bool
	SuppressPrefixLen    int
	HasSuppressPrefixLen bool
	SuppressIfGroup      int
	HasSuppressIfGroup   bool
	Protocol             uint8
	Extra                []string
}

// UnicastPeer is one line of unicast_peer.
type UnicastPeer struct {
	Pos    Pos
	Addr   netip.Addr
	MinTTL int
	MaxTTL int
}

// Auth is a VRRPv2 authentication block.
type Auth struct {
	Pos  Pos
	Type string // "PASS" or "AH"
	Pass string // at most 8 bytes (keepalived truncates)
}

// Command is a script invocation: notify_*, vrrp_script's script, FIFO
// scripts, MISC_CHECK misc_path, quorum_up/down.
type Command struct {
	Pos   Pos
	Argv  []string // split as keepalived splits script strings
	User  string   // "" = script_user / default
	Group string
}

// Notify holds the notify scripts of an instance or sync group.
type Notify struct {
	Master, Backup, Fault, Stop, Any, MasterRxLowerPri *Command
	Deleted                                            *Command
	PriorityChanges                                    bool
}

// TrackRef is one entry of track_interface, track_script, track_file or
// track_process.
type TrackRef struct {
	Pos       Pos
	Name      string
	Weight    int
	HasWeight bool
	Reverse   bool
}

// Script is a vrrp_script block.
type Script struct {
	Pos      Pos
	Name     string
	Cmd      *Command
	Interval time.Duration // 1s
	Timeout  time.Duration // resolved: = Interval unless set
	Weight   int
	Reverse  bool
	Rise     int // 1
	Fall     int // 1
	InitFail bool
	User     string
	Group    string

	badUser bool
}

// TrackFile is a track_file / vrrp_track_file block.
type TrackFile struct {
	Pos       Pos
	Name      string
	File      string
	Weight    int // 1
	Reverse   bool
	InitFile  bool
	InitValue int
	Overwrite bool
}

// TrackProcess is a vrrp_track_process block.
type TrackProcess struct {
	Pos            Pos
	Name           string
	Process        string
	Args           []string
	ParamMatch     string // "" exact, "initial", "partial"
	Weight         int
	Reverse        bool
	Quorum         int // fewest matching processes, 1..65535 (default 1); 0 only with QuorumMax 0
	QuorumMax      int // most matching processes; -1 = unlimited (default), 0 = the process must not run
	ForkDelay      time.Duration
	TerminateDelay time.Duration
	FullCommand    bool
}

// SyncGroup is a vrrp_sync_group block.
type SyncGroup struct {
	Pos             Pos
	Name            string
	Members         []string
	TrackInterfaces []TrackRef
	TrackScripts    []TrackRef
	TrackFiles      []TrackRef
	TrackProcesses  []TrackRef
	Notify          Notify
	SMTPAlert       bool // smtp_alert, or its global default: mail on state changes
	// TrackingWeight: sync_group_tracking_weight (or the deprecated
	// global_tracking). Members keep their weighted trackers, whose
	// weights move each member's priority; without it keepalived makes
	// them unweighted (a failure means FAULT) or ignores them.
	TrackingWeight bool
	Extra          []Raw

	track        [4][]TrackRef
	groupSet     bool
	smtpAlertSet bool
	memberPos    []Pos
}

// VirtualServerGroup is a virtual_server_group block.
type VirtualServerGroup struct {
	Pos     Pos
	Name    string
	Entries []VSGEntry
}

// VSGEntry is one member of a virtual_server_group.
type VSGEntry struct {
	Pos      Pos
	Addr     netip.Addr
	RangeEnd int // last byte/16-bit group of a range; 0 = single address
	Port     int
	FWMark   uint32
	IsFWMark bool
	Family   string // fwmark: "inet" or "inet6" ("" unspecified)
}

// VirtualServer is a virtual_server block. Exactly one of Addr, FWMark or
// Group identifies it.
type VirtualServer struct {
	Pos      Pos
	Addr     netip.Addr
	Port     int
	FWMark   uint32
	IsFWMark bool
	Group    string

	DelayLoop              time.Duration // 60s
	Scheduler              string        // lb_algo / lvs_sched
	Method                 string        // lb_kind / lvs_method: NAT, DR, TUN
	Tunnel                 Tunnel        // lvs_method TUN options, the default for its real servers
	SchedFlags             []string      // flag-1..3, sh-port, sh-fallback, mh-port, mh-fallback, in file order
	Protocol               string        // TCP, UDP, SCTP
	Persistence            time.Duration // 0 = off
	PersistenceGranularity string
	PersistenceEngine      string
	SorryServer            *RealServer
	SorryServerInhibit     bool
	Virtualhost            string
	HASuspend              bool
	Alpha, Omega           bool
	Quorum                 int // 1
	Hysteresis             int
	QuorumUp, QuorumDown   *Command
	// SMTPAlert (smtp_alert) mails quorum changes; resolved: its own,
	// else smtp_alert_checker, else smtp_alert, else off.
	SMTPAlert bool
	IPFamily  string
	Ops       bool

	// Checker defaults, inherited by real servers and their checkers.
	InhibitOnFailure bool
	ConnectTimeout   time.Duration // 5s
	Retry            int           // 1
	DelayBeforeRetry time.Duration // 1s
	Warmup           time.Duration

	RealServers []*RealServer
	Extra       []Raw

	set map[string]bool
}

// RealServer is a real_server block (also sorry_server, without checkers).
type RealServer struct {
	Pos              Pos
	Addr             netip.Addr
	Port             int // resolved: the virtual server's port when not given
	Weight           int // 1
	Method           string
	Tunnel           Tunnel // lvs_method TUN options (inherited with the method)
	NotifyUp         *Command
	NotifyDown       *Command
	UThreshold       int
	LThreshold       int
	InhibitOnFailure bool
	ConnectTimeout   time.Duration
	Retry            int
	DelayBeforeRetry time.Duration
	Warmup           time.Duration
	DelayLoop        time.Duration
	Alpha            bool
	Virtualhost      string
	// SMTPAlert (smtp_alert) mails its checkers' changes; resolved: its
	// own, else smtp_alert_checker, else smtp_alert, else on (keepalived
	// 2.2.7 does not take the virtual server's).
	SMTPAlert bool
	Checkers  []*Checker
	Extra     []Raw

	set     map[string]bool
	portSet bool
}

// Tunnel holds the options of "lvs_method TUN [type ipip|gue|gre] [port N]
// [nocsum|csum|remcsum]". The zero value is an ipip tunnel without
// checksum (keepalived's default).
type Tunnel struct {
	Type string // "" (ipip), "ipip", "gue", "gre"
	Port int    // gue only, required there
	Csum string // "" (nocsum), "nocsum", "csum", "remcsum"; not for ipip
}

// Checker is a health checker block inside a real_server, with the
// inherited common values resolved.
type Checker struct {
	Pos              Pos
	Kind             string // TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, DNS_CHECK, SMTP_CHECK, UDP_CHECK, PING_CHECK, BFD_CHECK, FILE_CHECK
	ConnectTimeout   time.Duration
	ConnectIP        netip.Addr
	ConnectPort      int
	BindTo           netip.Addr
	BindPort         int
	BindIf           string
	FWMark           uint32
	Retry            int
	DelayBeforeRetry time.Duration
	Warmup           time.Duration
	DelayLoop        time.Duration
	Alpha            bool

	URLs         []URL  // HTTP_GET, SSL_GET
	HTTPProtocol string // "1.0" default
	Virtualhost  string
	EnableSNI    bool
	FastRecovery bool // walk the urls back to back while down or before the first pass

	MiscPath    *Command // MISC_CHECK
	MiscTimeout time.Duration
	MiscDynamic bool

	DNSType  string // DNS_CHECK: default SOA
	DNSName  string // default "."
	HeloName string // SMTP_CHECK

	// UDP_CHECK: Payload is sent (nil: keepalived's 32-byte default).
	// RequireReply makes silence a failure; ReplyPattern/ReplyMask (same
	// length; a mask nibble of 0 is a wildcard) must then match the first
	// bytes of the reply, whose length must lie in
	// [MinReplyLength, MaxReplyLength] when a pattern is given.
	Payload                        []byte
	RequireReply                   bool
	ReplyPattern, ReplyMask        []byte
	MinReplyLength, MaxReplyLength int // 0, 255

	// FILE_CHECK: the track_file block named by track_file, and the weight
	// its value is multiplied by (default: the track_file's weight).
	TrackFile   string
	FileWeight  int
	FileReverse bool

	Extra []Raw

	set map[string]bool
}

// IsSet reports whether the checker block itself gave the keyword (the
// common timers, retry, alpha, virtualhost, weight, max_reply_length),
// rather than inheriting it or taking its default.
func (c *Checker) IsSet(keyword string) bool { return c.set[keyword] }

// URL is a url block of HTTP_GET / SSL_GET.
type URL struct {
	Pos          Pos
	Path         string
	Digest       string
	StatusCodes  [][2]int // inclusive ranges; empty = 200-299
	Virtualhost  string
	Regex        string
	RegexNoMatch bool
}

// SSL is the top-level SSL block.
type SSL struct {
	Pos         Pos
	Password    string
	CA          string
	Certificate string
	Key         string
}

// Severity grades a complaint.
type Severity int

const (
	// Warning: vigild runs, with the stated fallback (-t exit 5).
	Warning Severity = iota + 1
	// Fatal: vigild cannot run this configuration (-t exit 4).
	Fatal
	// Security: a script-security violation (-t exit 6); the scripts are
	// not run.
	Security
	// Notice: printed, but it does not change the -t exit code (keepalived
	// logs it without counting it as a configuration error), e.g. a keyword
	// that vigil accepts but does not implement, or an include that matches
	// no file. --strict makes notices fatal too.
	Notice
)

// String returns "warning", "fatal" or "security".
func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Fatal:
		return "fatal"
	case Security:
		return "security"
	case Notice:
		return "notice"
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// Error is one complaint about a configuration, always with a position.
type Error struct {
	Pos      Pos
	Keyword  string
	Err      error
	Severity Severity
	Fallback string // what vigild does instead; "" when nothing to say
}

// Error returns "file:line:col: keyword: what is wrong (fallback)".
func (e *Error) Error() string {
	s := e.Pos.String() + ": "
	if e.Keyword != "" {
		s += e.Keyword + ": "
	}
	if e.Err != nil {
		s += e.Err.Error()
	}
	if e.Fallback != "" {
		s += " (" + e.Fallback + ")"
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// IfaceDelay is one line of interface_up_down_delays: IF DOWN [UP], in
// seconds (0..255, microsecond resolution). A link change of Interface is
// acted on only when the link has kept its new state for Down (going
// down) or Up (coming up); a flap shorter than that changes nothing. The
// delays apply once the interface has been seen up.
type IfaceDelay struct {
	Pos       Pos
	Interface string
	Down, Up  time.Duration
}
