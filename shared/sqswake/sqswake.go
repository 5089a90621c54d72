// Package sqswake sends langsync wake-ups to an Amazon SQS queue: the
// wake-up queue of the Lambda host (shared/lambdahandler's Sender), which
// Lambda drains back into the function through an SQS event source
// mapping. It is the only importer of the AWS SDK for Go v2 (service/sqs)
// and knows only the domain (docs/aws.md).
//
// The body is the wake-up message ({"v":1,"run":...,"step":...,"seq":N}).
// Standard queues neither deduplicate nor keep order: a wake-up is
// idempotent by its run's sequence number, so a second delivery is stale
// and does nothing. SQS delays a message by at most 15 minutes.
package sqswake

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/langsync/langsync/shared/langsync"
)

// MaxDelay is SQS's largest DelaySeconds (900).
const MaxDelay = 15 * time.Minute

// Options configure a Sender. QueueURL is required.
type Options struct {
	// QueueURL is the queue's URL, e.g.
	// https://sqs.us-east-1.amazonaws.com/123456789012/langsync-wakeups.
	QueueURL string
	// Region defaults to the region in QueueURL's host.
	Region string
	// Endpoint, when set, replaces the SQS endpoint (a local stand-in).
	Endpoint string
	// Getenv reads the execution role's credentials (AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) on every request, as
	// Lambda sets them; default: none (anonymous, for stand-ins only).
	Getenv     func(string) string
	HTTPClient *http.Client
}

// Sender sends wake-ups to one queue.
type Sender struct {
	client   *sqs.Client
	queueURL string
}

// New returns a Sender. It makes no request.
func New(opts Options) (*Sender, error) {
	u, err := url.Parse(opts.QueueURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("sqswake: queue URL %q is not a URL such as https://sqs.<region>.amazonaws.com/<account>/<name>", opts.QueueURL)
	}
	if strings.HasSuffix(u.Path, ".fifo") {
		return nil, fmt.Errorf("sqswake: %s is a FIFO queue, which has no per-message delay; use a standard queue", opts.QueueURL)
	}
	region := opts.Region
	if region == "" {
		if parts := strings.Split(u.Hostname(), "."); len(parts) >= 4 && parts[0] == "sqs" {
			region = parts[1]
		}
	}
	if region == "" {
		return nil, errors.New("sqswake: no region: set AWS_REGION or use a queue URL of the form https://sqs.<region>.amazonaws.com/<account>/<name>")
	}
	cfg := aws.Config{Region: region, HTTPClient: opts.HTTPClient}
	if opts.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if getenv := opts.Getenv; getenv != nil {
		cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			c := aws.Credentials{AccessKeyID: getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: getenv("AWS_SECRET_ACCESS_KEY"),
				SessionToken: getenv("AWS_SESSION_TOKEN"), Source: "environment"}
			if c.AccessKeyID == "" || c.SecretAccessKey == "" {
				return aws.Credentials{}, errors.New("sqswake: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them from the execution role)")
			}
			return c, nil
		})
	} else {
		cfg.Credentials = aws.AnonymousCredentials{}
	}
	client := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
	})
	return &Sender{client: client, queueURL: opts.QueueURL}, nil
}

// SendWake sends w to arrive after delay (rounded up to a whole second).
// A delay over MaxDelay is refused: the caller leaves such a wake-up to
// the scheduled sweep.
func (s *Sender) SendWake(ctx context.Context, w langsync.Wake, delay time.Duration) error {
	if delay > MaxDelay {
		return fmt.Errorf("sqswake: delay %v is over SQS's 15 minutes", delay)
	}
	secs := int32(math.Ceil(max(delay, 0).Seconds()))
	_, err := s.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:     aws.String(s.queueURL),
		MessageBody:  aws.String(string(w.Wakeup.Body())),
		DelaySeconds: secs,
	})
	if err != nil {
		return fmt.Errorf("sqswake: sending wake-up %s: %w", w.MessageID(), err)
	}
	return nil
}
