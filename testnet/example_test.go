package testnet_test

import (
	"fmt"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// Two routers and a client on one switch, as the VRRP integration tests and
// the demo build it; a program uses NewStandalone where a test passes its t.
func Example() {
	t := testnet.NewStandalone("example", nil)
	defer t.Close()
	t.CloseOnSignal()

	lab := testnet.New(t)
	lan := lab.Switch("lan")
	r1, r2, client := lab.Host("r1"), lab.Host("r2"), lab.Host("client")
	e1 := lan.Attach(r1, "eth0")
	e1.AddAddr(t, "192.0.2.1/24")
	lan.Attach(r2, "eth0").AddAddr(t, "192.0.2.2/24")
	lan.Attach(client, "eth0").AddAddr(t, "192.0.2.100/24")

	// Watch VRRP adverts from the client's side.
	adverts := client.Capture(t, "eth0", "ip proto 112")
	// Run a daemon on r1; its output is in a log file.
	d := r1.Start(t, "vigild", "-n", "-l", "-D", "-f", "/path/to/keepalived.conf")
	d.WaitOutput(t, "Entering MASTER STATE", 10*time.Second)

	e1.Cut(t)      // r1 loses carrier
	_ = d.Freeze() // or: r1's daemon stops answering
	e1.Isolate(t)  // or: r1's frames vanish at the switch, carrier stays
	r2.DropRandom(t, "eth0", 20, testnet.In)
	testnet.Eventually(t, 10*time.Second, func() bool { return true }, "r2 took over")

	fmt.Println(len(adverts.Stop(t)), "adverts")
}
