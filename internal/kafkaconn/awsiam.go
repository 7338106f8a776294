package kafkaconn

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/aws_msk_iam_v2"

	"github.com/streamreplay/streamreplay/internal/plan"
)

// awsMSKIAM builds the AWS_MSK_IAM mechanism: every connection sends a SigV4-signed
// kafka-cluster:Connect request made with the pod's AWS credentials, found by the SDK's
// default chain: IRSA (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE), EKS Pod Identity
// (AWS_CONTAINER_CREDENTIALS_FULL_URI), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
// The SDK caches and renews them; they are fetched on the first connection, not here.
// The region is the spec's, else AWS_REGION (which IRSA and Pod Identity set).
func awsMSKIAM(s *plan.SASL) (sasl.Mechanism, error) {
	var opts []func(*config.LoadOptions) error
	if s.AWSRegion != "" {
		opts = append(opts, config.WithRegion(s.AWSRegion))
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("SASL AWS_MSK_IAM: loading the pod's AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("SASL AWS_MSK_IAM: no AWS region: set kafka.sasl.awsRegion, or AWS_REGION in the pods")
	}
	return aws_msk_iam_v2.NewMechanism(cfg), nil
}
