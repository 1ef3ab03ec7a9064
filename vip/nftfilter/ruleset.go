package nftfilter

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// DefaultTable is the name of vigil's table when the configuration does not
// name one.
const DefaultTable = "vigil"

// DefaultPriority is keepalived's chain priority for its VIP filter: just
// ahead of the ordinary filter chains (priority 0).
const DefaultPriority = -1

// maxTableName bounds a table name; the kernel's limit
// (NFT_TABLE_MAXNAMELEN) is 256 bytes with the terminator.
const maxTableName = 255

// Config is the filter's shape: where the rules live and how they count.
type Config struct {
	Table    string // "" means DefaultTable
	Priority int    // base chain priority (keepalived's nftables_priority)
	Counters bool   // a counter on every drop rule (nftables_counters)
}

// ErrTableName is wrapped by errors about a table name nft would not take as
// a plain identifier.
var ErrTableName = errors.New("nftfilter: invalid table name")

// ValidTableName checks that name is an nft identifier: a letter, then
// letters, digits and underscores, at most 255 bytes. Nothing else can be
// written into a script unquoted without changing its meaning.
func ValidTableName(name string) error {
	if name == "" || len(name) > maxTableName {
		return fmt.Errorf("%w: %q must be 1 to %d characters", ErrTableName, name, maxTableName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_'):
		default:
			return fmt.Errorf("%w: %q (a letter, then letters, digits or _)", ErrTableName, name)
		}
	}
	return nil
}

func (c Config) table() (string, error) {
	t := c.Table
	if t == "" {
		t = DefaultTable
	}
	if err := ValidTableName(t); err != nil {
		return "", err
	}
	return t, nil
}

// Elem is one blocked address. Ifname is required for an IPv6 link-local
// address (the same fe80:: address may be used on several links) and
// ignored for the others.
type Elem struct {
	Addr   netip.Addr
	Ifname string
}

// ErrElem is wrapped by errors about an address that cannot be blocked.
var ErrElem = errors.New("nftfilter: invalid element")

// sets sorts elems into the three sets, each sorted and without duplicates,
// so that the same blocked addresses always make the same script.
func sets(elems []Elem) (v4, v6, ll []string, err error) {
	for _, e := range elems {
		a := e.Addr.Unmap()
		switch {
		case !a.IsValid() || a.Zone() != "":
			return nil, nil, nil, fmt.Errorf("%w: address %v", ErrElem, e.Addr)
		case a.Is4():
			v4 = append(v4, a.String())
		case a.IsLinkLocalUnicast():
			if !validIfname(e.Ifname) {
				return nil, nil, nil, fmt.Errorf("%w: link-local %v needs a valid interface name, not %q", ErrElem, a, e.Ifname)
			}
			ll = append(ll, a.String()+` . "`+e.Ifname+`"`)
		default:
			v6 = append(v6, a.String())
		}
	}
	for _, s := range []*[]string{&v4, &v6, &ll} {
		slices.Sort(*s)
		*s = slices.Compact(*s)
	}
	return v4, v6, ll, nil
}

// validIfname accepts what the kernel accepts as an interface name (1 to 15
// bytes, no '/', ':', whitespace or NUL) and, since the name is written
// between double quotes, no quote or backslash either.
func validIfname(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '/' || c == ':' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Ruleset is the script that replaces whatever table of this name a
// previous run left (a killed vigild leaves its table, and its sets may
// hold addresses this run must accept) with a fresh one blocking elems:
// declare the table (a no-op when it exists, so the delete cannot fail),
// delete it, then build it again, all in one transaction.
func Ruleset(c Config, elems []Elem) (string, error) {
	t, v4, v6, ll, err := c.prepare(elems)
	if err != nil {
		return "", err
	}
	counter := ""
	if c.Counters {
		counter = "counter "
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {}\ndelete table inet %s\n", t, t)
	fmt.Fprintf(&b, "table inet %s {\n", t)
	b.WriteString("\tset vips4 {\n\t\ttype ipv4_addr\n\t}\n")
	b.WriteString("\tset vips6 {\n\t\ttype ipv6_addr\n\t}\n")
	b.WriteString("\tset vips6_ll {\n\t\ttype ipv6_addr . ifname\n\t}\n")
	for _, ch := range []struct{ name, hook, dir, ifdir string }{
		{"in", "input", "daddr", "iifname"},
		{"out", "output", "saddr", "oifname"},
	} {
		fmt.Fprintf(&b, "\tchain %s {\n\t\ttype filter hook %s priority %d; policy accept;\n", ch.name, ch.hook, c.Priority)
		b.WriteString("\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n")
		fmt.Fprintf(&b, "\t\tip %s @vips4 %sdrop\n", ch.dir, counter)
		fmt.Fprintf(&b, "\t\tip6 %s @vips6 %sdrop\n", ch.dir, counter)
		fmt.Fprintf(&b, "\t\tip6 %s . %s @vips6_ll %sdrop\n", ch.dir, ch.ifdir, counter)
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	writeElements(&b, t, v4, v6, ll)
	return b.String(), nil
}

// Sync is the script that makes the sets of an existing table hold exactly
// elems: each set is flushed and refilled in the same transaction, so no
// packet sees a set half changed and no earlier state matters.
func Sync(c Config, elems []Elem) (string, error) {
	t, v4, v6, ll, err := c.prepare(elems)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, s := range []string{"vips4", "vips6", "vips6_ll"} {
		fmt.Fprintf(&b, "flush set inet %s %s\n", t, s)
	}
	writeElements(&b, t, v4, v6, ll)
	return b.String(), nil
}

// prepare checks the table name and sorts elems into the sets.
func (c Config) prepare(elems []Elem) (table string, v4, v6, ll []string, err error) {
	if table, err = c.table(); err != nil {
		return "", nil, nil, nil, err
	}
	v4, v6, ll, err = sets(elems)
	return table, v4, v6, ll, err
}

// Teardown is the script that removes the table, whether or not it exists.
func Teardown(c Config) (string, error) {
	t, err := c.table()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("table inet %s {}\ndelete table inet %s\n", t, t), nil
}

func writeElements(b *strings.Builder, table string, v4, v6, ll []string) {
	for _, s := range []struct {
		name  string
		elems []string
	}{{"vips4", v4}, {"vips6", v6}, {"vips6_ll", ll}} {
		if len(s.elems) == 0 {
			continue
		}
		fmt.Fprintf(b, "add element inet %s %s { %s }\n", table, s.name, strings.Join(s.elems, ", "))
	}
}
