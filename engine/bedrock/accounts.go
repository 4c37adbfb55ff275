// Package bedrock is Spillway's path to Amazon Bedrock through
// aws-sdk-go-v2: Converse and InvokeModel calls as an engine.Backend, and the
// Region histogram read with CloudWatch Logs Insights as an engine.LogSource.
//
// The same code talks to real AWS and to Spillway's emulator; only the
// endpoint and the credentials differ. The SDK's own retries are off, because
// the engine owns retries and fallback: a hidden retry would hide the very
// throttle an experiment is meant to show.
package bedrock

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"

	"spillway/scenarios"
)

// Target says where the SDK clients go and how they authenticate.
type Target struct {
	// Endpoint sends every call to this URL instead of AWS.
	Endpoint string
	// Credentials, when set, gives each account fixed credentials instead of
	// loading its profile: the embedded emulator's keys.
	Credentials func(scenarios.Account) aws.CredentialsProvider
	// Virtual sends the engine's simulated time with every call and takes
	// the latency from the reply. Only Spillway's emulator understands it;
	// it keeps a run on simulated time deterministic at any speed.
	Virtual bool
	// CallTimeout bounds each model call (default 2 minutes).
	CallTimeout time.Duration
	// SetupTimeout bounds loading one account: its profile, credentials and
	// identity (default 10 seconds), so missing credentials never hang.
	SetupTimeout time.Duration
	// QueryTimeout bounds one Logs Insights query (default 30 seconds).
	QueryTimeout time.Duration
	// Transport, when set, carries every call instead of the network: the
	// embedded emulator's handler in this process. The SDK still signs,
	// serialises and parses each call.
	Transport http.RoundTripper
}

// Account is one scenario account with its SDK clients.
type Account struct {
	Spec      scenarios.Account
	AccountID string // from the credentials or STS GetCallerIdentity
	runtime   *bedrockruntime.Client
	logs      *cloudwatchlogs.Client
}

// Masked is the account id as the seed's demos show it: …1234.
func (a *Account) Masked() string { return scenarios.MaskAccountID(a.AccountID) }

// Client reaches Bedrock and CloudWatch Logs for every account of a
// scenario. It is an engine.Backend and an engine.LogSource.
type Client struct {
	target   Target
	accounts map[string]*Account
	order    []*Account
}

// Connect loads every account of s: one AWS config per account profile, its
// credentials, and its account id. It fails fast, naming the account and
// profile and saying what to do.
func Connect(ctx context.Context, s *scenarios.Scenario, t Target) (*Client, error) {
	if t.CallTimeout <= 0 {
		t.CallTimeout = 2 * time.Minute
	}
	if t.SetupTimeout <= 0 {
		t.SetupTimeout = 10 * time.Second
	}
	if t.QueryTimeout <= 0 {
		t.QueryTimeout = 30 * time.Second
	}
	c := &Client{target: t, accounts: map[string]*Account{}}
	for _, spec := range s.Accounts {
		a, err := connect(ctx, spec, t)
		if err != nil {
			return nil, err
		}
		c.accounts[spec.Name] = a
		c.order = append(c.order, a)
	}
	return c, nil
}

// Accounts are the loaded accounts in scenario order.
func (c *Client) Accounts() []*Account { return c.order }

func connect(ctx context.Context, spec scenarios.Account, t Target) (*Account, error) {
	ctx, cancel := context.WithTimeout(ctx, t.SetupTimeout)
	defer cancel()
	who := fmt.Sprintf("account %q (profile %q)", spec.Name, spec.Profile)

	var cfg aws.Config
	if t.Credentials != nil {
		// The emulator's keys: nothing from the environment or ~/.aws may
		// leak in, so a presenter's own AWS setup cannot change a demo.
		cfg = aws.Config{Region: spec.Region, Credentials: t.Credentials(spec)}
	} else {
		// The SDK's own log lines (such as IMDS fallbacks) would interleave
		// with the run's output; its errors reach the user through ours.
		opts := []func(*config.LoadOptions) error{config.WithRegion(spec.Region), config.WithLogger(logging.Nop{})}
		explicit, err := profileToUse(ctx, spec.Profile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", who, err)
		}
		if explicit {
			opts = append(opts, config.WithSharedConfigProfile(spec.Profile))
		}
		if cfg, err = config.LoadDefaultConfig(ctx, opts...); err != nil {
			return nil, fmt.Errorf("%s: loading the AWS configuration failed: %v; check ~/.aws/config", who, err)
		}
	}

	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", who, credentialAdvice(spec, err, ctx))
	}
	if creds.CanExpire && creds.Expires.Before(time.Now()) {
		return nil, fmt.Errorf("%s: the credentials expired at %s; refresh them (for SSO: aws sso login --profile %s) and run again",
			who, creds.Expires.Format(time.RFC3339), spec.Profile)
	}

	a := &Account{Spec: spec, AccountID: creds.AccountID}
	a.runtime = bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		o.Retryer = aws.NopRetryer{}
		o.HTTPClient = &http.Client{Transport: OwnBodies{Next: runtimeTransport()}}
		if t.Transport != nil {
			o.HTTPClient = &http.Client{Transport: t.Transport}
		}
		// A bearer token in the environment would otherwise switch the
		// client to bearer auth, which refuses plain-HTTP endpoints.
		o.AuthSchemePreference = []string{"sigv4"}
		if t.Endpoint != "" {
			o.BaseEndpoint = aws.String(t.Endpoint)
		}
	})
	a.logs = cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) {
		o.Retryer = aws.NopRetryer{}
		if t.Transport != nil {
			o.HTTPClient = &http.Client{Transport: t.Transport}
		}
		if t.Endpoint != "" {
			o.BaseEndpoint = aws.String(t.Endpoint)
		}
	})
	if a.AccountID == "" {
		stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) {
			o.Retryer = aws.NopRetryer{}
			if t.Transport != nil {
				o.HTTPClient = &http.Client{Transport: t.Transport}
			}
			if t.Endpoint != "" {
				o.BaseEndpoint = aws.String(t.Endpoint)
			}
		})
		out, err := stsClient.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return nil, fmt.Errorf("%s: STS GetCallerIdentity failed: %s", who, describe(err, t.Endpoint, spec.Profile))
		}
		a.AccountID = aws.ToString(out.Account)
	}
	return a, nil
}

// profileToUse reports whether the profile must be named to the SDK. The
// default profile is left to the SDK's usual chain, so environment
// credentials still work; any other profile must exist.
func profileToUse(ctx context.Context, profile string) (bool, error) {
	if profile == scenarios.DefaultProfile {
		return false, nil
	}
	_, err := config.LoadSharedConfigProfile(ctx, profile, func(o *config.LoadSharedConfigOptions) {
		// The same files LoadDefaultConfig reads, honouring the variables
		// that move them.
		if f := os.Getenv("AWS_CONFIG_FILE"); f != "" {
			o.ConfigFiles = []string{f}
		}
		if f := os.Getenv("AWS_SHARED_CREDENTIALS_FILE"); f != "" {
			o.CredentialsFiles = []string{f}
		}
	})
	var missing config.SharedConfigProfileNotExistError
	if errors.As(err, &missing) {
		return false, fmt.Errorf("profile %q is not in ~/.aws/config or ~/.aws/credentials; create it with 'aws configure --profile %s' (or 'aws configure sso'), or use --backend sim to run without AWS", profile, profile)
	}
	if err != nil {
		return false, fmt.Errorf("reading profile %q: %v; check ~/.aws/config", profile, err)
	}
	return true, nil
}

// credentialAdvice explains a failure to find credentials.
func credentialAdvice(spec scenarios.Account, err error, ctx context.Context) string {
	if ctx.Err() != nil {
		return fmt.Sprintf("no AWS credentials found within the setup deadline (the SDK's last resort, the EC2 instance metadata service, did not answer); configure them with 'aws configure --profile %s' or 'aws sso login --profile %s', or use --backend sim to run without AWS", spec.Profile, spec.Profile)
	}
	return fmt.Sprintf("no AWS credentials found (looked in the environment, ~/.aws and the EC2 instance metadata service; the SDK said: %v); configure them with 'aws configure --profile %s' or 'aws sso login --profile %s', or use --backend sim to run without AWS", err, spec.Profile, spec.Profile)
}

// MaxIdleConnsPerEndpoint is how many idle connections an account keeps
// to Bedrock's endpoint. The SDK keeps 10; a gateway with more calls in
// flight than that would close a connection after nearly every answer and
// open another for the next call, which on loopback cost more than the
// call itself and left thousands of sockets in TIME_WAIT.
const MaxIdleConnsPerEndpoint = 256

// runtimeTransport is the SDK's own HTTP transport, keeping enough idle
// connections for every call a run has in flight.
func runtimeTransport() *http.Transport {
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = max(tr.MaxIdleConns, 4*MaxIdleConnsPerEndpoint)
		tr.MaxIdleConnsPerHost = MaxIdleConnsPerEndpoint
	}).GetTransport()
}
