package v1alpha1_test

import (
	"testing"

	v1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// The sample URL may come from a Secret, with its headers; a URL with credentials in
// the clear is refused.
func TestSampleURLFromSecret(t *testing.T) {
	ctx := testContext(t)
	ok := base("samples-url-secret")
	ok.Spec.SampleSet = v1alpha1.SampleSet{
		URLSecretRef:     &v1alpha1.SecretKeyRef{Name: "samples-url", Key: "url"},
		HeadersSecretRef: &v1alpha1.SecretRef{Name: "samples-auth"},
	}
	if err := k8sClient.Create(ctx, ok); err != nil {
		t.Fatalf("a sample URL from a Secret with headers is refused: %v", err)
	}
	withHeaders := base("samples-url-headers")
	withHeaders.Spec.SampleSet = v1alpha1.SampleSet{URL: "https://samples.example.com/crm.jsonl.gz", HeadersSecretRef: &v1alpha1.SecretRef{Name: "samples-auth"}}
	if err := k8sClient.Create(ctx, withHeaders); err != nil {
		t.Fatalf("a plain sample URL with headers from a Secret is refused: %v", err)
	}

	for _, tc := range []struct {
		name  string
		set   v1alpha1.SampleSet
		wants []string
	}{
		{"url and urlSecretRef", v1alpha1.SampleSet{URL: "https://h/x", URLSecretRef: &v1alpha1.SecretKeyRef{Name: "s", Key: "url"}},
			[]string{"url and urlSecretRef are exclusive"}},
		{"urlSecretRef and a ConfigMap", v1alpha1.SampleSet{URLSecretRef: &v1alpha1.SecretKeyRef{Name: "s", Key: "url"}, ConfigMapRef: &v1alpha1.ConfigMapKeyRef{Name: "c", Key: "k"}},
			[]string{"exactly one of configMapRef, persistentVolumeClaim and url must be set (or urlSecretRef instead of url)"}},
		{"headers without a URL", v1alpha1.SampleSet{ConfigMapRef: &v1alpha1.ConfigMapKeyRef{Name: "c", Key: "k"}, HeadersSecretRef: &v1alpha1.SecretRef{Name: "s"}},
			[]string{"headersSecretRef needs url or urlSecretRef"}},
		{"password in the url", v1alpha1.SampleSet{URL: "https://alice:s3cret@samples.example.com/x"},
			[]string{"url must not carry a user or password"}},
		{"user in the url", v1alpha1.SampleSet{URL: "http://alice@samples.example.com/x"},
			[]string{"url must not carry a user or password"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := base("samples-url-bad")
			lt.Spec.SampleSet = tc.set
			expectInvalid(t, k8sClient.Create(ctx, lt), tc.wants...)
		})
	}
	// An @ after the host (in the path or the query) is no credential.
	at := base("samples-url-at")
	at.Spec.SampleSet = v1alpha1.SampleSet{URL: "https://samples.example.com/people/@crm/x.jsonl?by=a@b"}
	if err := k8sClient.Create(ctx, at); err != nil {
		t.Errorf("a URL with @ in its path and query is refused: %v", err)
	}
}
