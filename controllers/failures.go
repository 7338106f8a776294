package controllers

import (
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// quotaExceeded tells a refusal by a ResourceQuota: it may clear up when other pods end.
// The quota admission plugin says so only in its message.
func quotaExceeded(err error) bool {
	if !apierrors.IsForbidden(err) {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "exceeded quota") || strings.Contains(msg, "status unknown for quota")
}

// permanent tells a refusal that sending the same request again cannot overcome: the
// object is invalid, or admission (Pod Security, a webhook, a ValidatingAdmissionPolicy,
// a LimitRange, RBAC) said no. A quota is not permanent.
func permanent(err error) bool {
	if quotaExceeded(err) {
		return false
	}
	return apierrors.IsForbidden(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) ||
		apierrors.IsRequestEntityTooLargeError(err) || apierrors.IsMethodNotSupported(err)
}
