// Command kubectl-streamreplay is the kubectl plugin of streamreplay: put it on PATH and run
// `kubectl streamreplay stop|rerun|compare|report|record|import-console-consumer`.
package main

import (
	"os"

	"github.com/streamreplay/streamreplay/internal/plugin"
)

func main() {
	os.Exit(plugin.Main())
}
