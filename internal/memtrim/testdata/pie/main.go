// Command pie drops its own program mappings with memtrim.AfterStart and
// goes on running code that reads relocated data (an interface's method
// table, a map of functions); built position-independent it fails if the
// trim dropped a relocated range.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/vigil-ha/vigil/internal/memtrim"
)

var table = map[string]func(int) int{
	"double": func(x int) int { return 2 * x },
	"square": func(x int) int { return x * x },
}

func main() {
	n, err := memtrim.AfterStart()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	runtime.GC()
	var st fmt.Stringer = &strings.Builder{}
	sum := 0
	for i := range 1000 {
		sum += table["double"](i) + table["square"](i%7)
	}
	fmt.Println("dropped", n, "sum", sum, st.String() == "")
}
