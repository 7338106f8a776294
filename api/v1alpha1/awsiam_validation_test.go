package v1alpha1_test

import (
	"fmt"
	"testing"

	v1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// TestAWSMSKIAMAdmission: AWS_MSK_IAM takes no Secret and needs TLS; the other mechanisms
// still need their Secret; awsRegion belongs to AWS_MSK_IAM only.
func TestAWSMSKIAMAdmission(t *testing.T) {
	tlsOn := &v1alpha1.KafkaTLS{}
	cases := []struct {
		name  string
		tls   *v1alpha1.KafkaTLS
		sasl  v1alpha1.KafkaSASL
		wants []string // empty: accepted
	}{
		{name: "iam over tls", tls: tlsOn, sasl: v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLAWSMSKIAM}},
		{name: "iam with a region", tls: tlsOn, sasl: v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLAWSMSKIAM, AWSRegion: "eu-west-1"}},
		{name: "iam without tls", sasl: v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLAWSMSKIAM},
			wants: []string{"spec.kafka.sasl", "sasl mechanism AWS_MSK_IAM needs tls"}},
		{name: "iam with a secret", tls: tlsOn, sasl: v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLAWSMSKIAM, SecretRef: v1alpha1.SecretRef{Name: "kafka-user"}},
			wants: []string{"spec.kafka.sasl", "mechanism AWS_MSK_IAM signs with the pod's AWS credentials", "remove secretRef"}},
		{name: "iam with a username", tls: tlsOn, sasl: v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLAWSMSKIAM, Username: "me"},
			wants: []string{"spec.kafka.sasl", "mechanism AWS_MSK_IAM signs with the pod's AWS credentials"}},
		{name: "iam with a bad region", tls: tlsOn, sasl: v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLAWSMSKIAM, AWSRegion: "Europe"},
			wants: []string{"spec.kafka.sasl.awsRegion", "should match"}},
		{name: "scram without a secret", tls: tlsOn, sasl: v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLScramSHA512},
			wants: []string{"spec.kafka.sasl", "secretRef is required with mechanism PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512"}},
		{name: "scram with a region", tls: tlsOn, sasl: v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLScramSHA512, SecretRef: v1alpha1.SecretRef{Name: "kafka-user"}, AWSRegion: "eu-west-1"},
			wants: []string{"spec.kafka.sasl", "awsRegion is only used by mechanism AWS_MSK_IAM"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			lt := base(fmt.Sprintf("msk-iam-%02d", i))
			lt.Spec.Kafka.TLS = tc.tls
			lt.Spec.Kafka.SASL = &tc.sasl
			err := k8sClient.Create(ctx, lt)
			if err == nil {
				_ = k8sClient.Delete(ctx, lt)
			}
			if len(tc.wants) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if lt.Spec.Kafka.SASL.SecretRef.Name != "" {
					t.Errorf("the stored AWS_MSK_IAM spec has a secretRef %+v", lt.Spec.Kafka.SASL.SecretRef)
				}
				return
			}
			expectInvalid(t, err, tc.wants...)
		})
	}
}
