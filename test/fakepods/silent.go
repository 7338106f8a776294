package fakepods

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/streamreplay/streamreplay/internal/plan"
)

// SilentPods play pods whose control port accepts connections and never answers, as a
// hung pod does: a control call to them waits until the caller gives up. It is safe for
// concurrent use.
type SilentPods struct {
	mu        sync.Mutex
	listeners []net.Listener
	conns     []net.Conn
	accepted  map[string]int // by address
	closed    bool
}

// NewSilentPods gives SilentPods that listen nowhere yet; Close them when done.
func NewSilentPods() *SilentPods {
	return &SilentPods{accepted: map[string]int{}}
}

// Serve starts accepting, and ignoring, control calls sent to ip.
func (s *SilentPods) Serve(ip string) error {
	addr := net.JoinHostPort(ip, strconv.Itoa(plan.ControlPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	s.mu.Lock()
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				_ = conn.Close()
				return
			}
			s.conns = append(s.conns, conn)
			s.accepted[ip]++
			s.mu.Unlock()
		}
	}()
	return nil
}

// Accepted is how many connections ip accepted (one per control call: a call that got no
// answer never reuses its connection).
func (s *SilentPods) Accepted(ip string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted[ip]
}

// Close stops listening and drops the connections held.
func (s *SilentPods) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var errs []error
	for _, ln := range s.listeners {
		errs = append(errs, ln.Close())
	}
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.conns = nil
	return errors.Join(errs...)
}
