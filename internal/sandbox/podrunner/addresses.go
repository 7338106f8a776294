package podrunner

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
)

// maxPoolSize bounds the pool: tens of pods need far fewer addresses than an IPv6 prefix holds.
const maxPoolSize = 1 << 16

// addressPool hands out pod addresses round-robin, so an address freed by one pod is
// reused as late as possible, as a cluster's IPAM tends to do.
type addressPool struct {
	mu    sync.Mutex
	addrs []netip.Addr
	used  map[netip.Addr]bool
	next  int
}

func newAddressPool(prefix netip.Prefix) (*addressPool, error) {
	prefix = prefix.Masked()
	var addrs []netip.Addr
	for a := prefix.Addr().Next(); a.IsValid() && prefix.Contains(a) && len(addrs) < maxPoolSize; a = a.Next() {
		addrs = append(addrs, a)
	}
	// The last IPv4 address of a prefix is its broadcast address.
	if prefix.Addr().Is4() && prefix.Bits() < 31 && len(addrs) > 0 && !prefix.Contains(addrs[len(addrs)-1].Next()) {
		addrs = addrs[:len(addrs)-1]
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("address pool %s has no usable address", prefix)
	}
	return &addressPool{addrs: addrs, used: map[netip.Addr]bool{}}, nil
}

var errPoolExhausted = errors.New("no free address in the pool")

// allocate gives a free address whose ports are not bound by another process (one left
// over from an earlier run, say), so the pod's process can listen there.
func (p *addressPool) allocate(ports []int32) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range p.addrs {
		a := p.addrs[p.next]
		p.next = (p.next + 1) % len(p.addrs)
		if p.used[a] || !portsFree(a, ports) {
			continue
		}
		p.used[a] = true
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("%w (%d addresses)", errPoolExhausted, len(p.addrs))
}

func (p *addressPool) release(a netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.used, a)
}

func portsFree(a netip.Addr, ports []int32) bool {
	for _, port := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort(a.String(), strconv.Itoa(int(port))))
		if err != nil {
			return false
		}
		_ = l.Close()
	}
	return true
}
