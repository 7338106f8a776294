package fakepods

import (
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
)

// SeveralManagers is the operator.Options.ManagerSettings for a suite that makes a manager
// per test in one process: controller-runtime refuses a second controller of the same
// name unless its name validation is skipped.
func SeveralManagers(o *ctrl.Options) {
	o.Controller.SkipNameValidation = ptr.To(true)
}
