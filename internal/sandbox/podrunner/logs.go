package podrunner

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
)

// The kubelet's limits on termination messages.
const (
	maxTerminationMessage = 4096
	maxFallbackLogBytes   = 2048
	maxFallbackLogLines   = 80
	// maxPodTerminationMessages is shared by a pod's containers, init and ephemeral ones
	// included: the kubelet keeps the first 12 KiB / containers bytes of each message.
	maxPodTerminationMessages = 12 * 1024
)

// syncWriter serialises whole lines from many processes onto one writer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) writeLine(prefix string, line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = io.WriteString(s.w, prefix)
	_, _ = s.w.Write(line)
	if len(line) == 0 || line[len(line)-1] != '\n' {
		_, _ = io.WriteString(s.w, "\n")
	}
}

// prefixWriter cuts one process's output into lines and writes each with a prefix.
type prefixWriter struct {
	out    *syncWriter
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		p.out.writeLine(p.prefix, p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
	// A process that never ends its line must not grow the buffer forever.
	if len(p.buf) > 64<<10 {
		p.flush()
	}
	return len(b), nil
}

func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		p.out.writeLine(p.prefix, p.buf)
		p.buf = p.buf[:0]
	}
}

// readTail reads at most the last max bytes of a file, as the kubelet reads a
// termination message.
func readTail(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name) //nolint:gosec // a file of the runner's own work folder
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if size := info.Size(); size > limit {
		if _, err := f.Seek(size-limit, io.SeekStart); err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return b, nil
}

// logTail is the kubelet's FallbackToLogsOnError message: the last 80 lines of the
// log, of which the last 2048 bytes.
func logTail(name string) string {
	b, err := readTail(name, 64<<10)
	if err != nil {
		return fmt.Sprintf("Error on reading termination message from logs: %v", err)
	}
	b = lastLines(b, maxFallbackLogLines)
	if len(b) > maxFallbackLogBytes {
		b = b[len(b)-maxFallbackLogBytes:]
	}
	return string(b)
}

// lastLines keeps the last n lines of b (a final newline does not start a line).
func lastLines(b []byte, n int) []byte {
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}
