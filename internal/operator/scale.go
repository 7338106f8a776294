package operator

import "fmt"

// defaultScale fills in the defaults of SignalBudget and MaxConcurrentReconciles and
// refuses values that cannot work, naming the manager's flag.
func (o *Options) defaultScale() error {
	if o.SignalBudget == 0 {
		o.SignalBudget = max(DefaultSignalBudget, o.SignalTimeout)
	}
	if o.MaxConcurrentReconciles == 0 {
		o.MaxConcurrentReconciles = DefaultMaxConcurrentReconciles
	}
	switch {
	case o.MaxConcurrentReconciles < 0:
		return fmt.Errorf("--max-concurrent-reconciles=%d: want at least 1", o.MaxConcurrentReconciles)
	case o.SignalBudget < 0:
		return fmt.Errorf("--signal-budget=%s: want a positive duration", o.SignalBudget)
	case o.SignalTimeout > 0 && o.SignalBudget < o.SignalTimeout:
		return fmt.Errorf("--signal-budget=%s is shorter than --signal-timeout=%s: a pod slower than the budget could never answer; raise the budget or lower the timeout",
			o.SignalBudget, o.SignalTimeout)
	}
	return nil
}
