package e2e

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func zapcoreFor(w io.Writer) zapcore.Core {
	return zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(w), zapcore.InfoLevel)
}

// dumpLog prints the end of the sandbox's log, to explain a failure in CI.
func dumpLog(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	data = []byte(redact(string(data)))
	const tail = 20000
	if len(data) > tail {
		data = data[len(data)-tail:]
	}
	fmt.Fprintf(os.Stderr, "--- end of the sandbox log %s ---\n%s\n", path, data)
}

// Values no test output may show, such as the secrets test's passwords: dumpLog and that
// test's messages print them as «redacted».
var (
	redactMu sync.Mutex
	redacted []string
)

// redactFromOutput registers values that redact hides.
func redactFromOutput(values ...string) {
	redactMu.Lock()
	defer redactMu.Unlock()
	for _, v := range values {
		if v != "" {
			redacted = append(redacted, v)
		}
	}
}

// redact replaces every registered value in s.
func redact(s string) string {
	redactMu.Lock()
	defer redactMu.Unlock()
	for _, v := range redacted {
		s = strings.ReplaceAll(s, v, "«redacted»")
	}
	return s
}
