package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/entry/entrytest"
	"github.com/langsync/langsync/shared/lambdahandler"
)

const samTemplate = "../../infra/aws/template.yaml"

// samEventFixtures: for each SAM event type the handler accepts, an event
// of that kind from shared/lambdahandler/testdata (aws-lambda-go's shapes).
// ScheduleV2 is checked with the template's own Input instead.
var samEventFixtures = map[string]string{
	"SQS":      "sqs-langsync.json",
	"Schedule": "eventbridge-scheduled.json",
	"Api":      "api-gateway-status.json",
	"HttpApi":  "aws-lambda-go/apigw-v2-request-iam.json",
}

// hostSettings are the settings the Lambda host reads: the app's
// (config.FromAppSettings) and the host's own (lambdaSettings), plus the
// Entra app credential azidentity's EnvironmentCredential reads.
func hostSettings() []string {
	s := []string{config.EnvConfig, config.EnvPrimaryEndpoint, config.EnvPrimaryKey, config.EnvPrimaryStorage,
		config.EnvSecondaryEndpoint, config.EnvSecondaryKey, config.EnvSecondaryStorage, config.EnvProjects,
		config.EnvStore, config.EnvAuth, config.EnvSchedule, config.EnvServiceBus, config.EnvJobRetries,
		config.EnvUnreachableBudget, "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"}
	return append(s, lambdaSettings...)
}

// samRequired must be set by the template; every other host setting must be
// documented as optional in docs/aws.md.
var samRequired = []string{config.EnvPrimaryEndpoint, config.EnvSecondaryEndpoint, config.EnvProjects, config.EnvStore,
	config.EnvAuth, envSQSQueueURL, "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"}

// node returns the value under keys in nested mappings, or nil.
func node(n *yaml.Node, keys ...string) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// pairs lists a mapping's keys and values.
func pairs(n *yaml.Node) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
		}
	}
	return out
}

// ref reads a reference in short (!Ref X, !GetAtt X.Arn) or long form
// ({Ref: X}, {Fn::GetAtt: [X, Arn]}) as "X" or "X.Arn".
func ref(n *yaml.Node) string {
	switch {
	case n == nil:
		return ""
	case n.Tag == "!Ref" || n.Tag == "!GetAtt":
		return n.Value
	case node(n, "Ref") != nil:
		return node(n, "Ref").Value
	case node(n, "Fn::GetAtt") != nil && len(node(n, "Fn::GetAtt").Content) == 2:
		c := node(n, "Fn::GetAtt").Content
		return c[0].Value + "." + c[1].Value
	}
	return ""
}

func scalars(n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var s []string
	for _, c := range n.Content {
		s = append(s, c.Value)
	}
	return s
}

// checkSAM returns every way the template and the handler disagree.
func checkSAM(t *testing.T, doc *yaml.Node, awsDoc string) []string {
	var bad []string
	fn := node(doc, "Resources", "LangsyncFunction")
	if node(fn, "Type").Value != "AWS::Serverless::Function" {
		return []string{"no AWS::Serverless::Function LangsyncFunction"}
	}
	props := node(fn, "Properties")
	for k, want := range map[string]string{"Runtime": "provided.al2023", "Handler": "bootstrap"} {
		if v := node(props, k); v == nil || v.Value != want {
			bad = append(bad, fmt.Sprintf("%s is not %s", k, want))
		}
	}
	if !slices.Equal(scalars(node(props, "Architectures")), []string{"arm64"}) {
		bad = append(bad, "Architectures is not [arm64]")
	}
	if v := node(props, "Timeout"); v == nil || v.Value == "" {
		bad = append(bad, "no Timeout")
	}
	if v := node(props, "FunctionUrlConfig", "AuthType"); v == nil || v.Value != "AWS_IAM" {
		bad = append(bad, "the Function URL's AuthType is not AWS_IAM")
	}

	// Environment: required settings set, everything else documented
	// optional, nothing set that the host does not read.
	vars := map[string]*yaml.Node{}
	for _, p := range pairs(node(props, "Environment", "Variables")) {
		vars[p[0].Value] = p[1]
	}
	read := hostSettings()
	for name := range vars {
		if !slices.Contains(read, name) {
			bad = append(bad, fmt.Sprintf("environment sets %s, which the host does not read", name))
		}
	}
	for _, name := range read {
		_, set := vars[name]
		switch {
		case slices.Contains(samRequired, name) && !set:
			bad = append(bad, fmt.Sprintf("environment does not set %s", name))
		case !set && !strings.Contains(awsDoc, "`"+name+"`"):
			bad = append(bad, fmt.Sprintf("%s is neither set nor documented as optional in docs/aws.md", name))
		}
	}
	if v := vars[config.EnvAuth]; v != nil && v.Value != "entra" {
		bad = append(bad, "LANGSYNC_AUTH is not entra (the Entra app credential would be unused)")
	}
	for _, name := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"} {
		if v := vars[name]; v != nil && !strings.Contains(v.Value, "{{resolve:secretsmanager:") {
			bad = append(bad, fmt.Sprintf("%s is not a Secrets Manager dynamic reference", name))
		}
	}

	// The wake-up queue: the one the host sends to is the one the SQS
	// event reads, it may be sent to, and it has a dead-letter queue.
	queue := strings.TrimSuffix(ref(vars[envSQSQueueURL]), ".Arn")
	if node(doc, "Resources", queue, "Type") == nil || node(doc, "Resources", queue, "Type").Value != "AWS::SQS::Queue" {
		bad = append(bad, fmt.Sprintf("%s is not !Ref of an AWS::SQS::Queue", envSQSQueueURL))
	} else {
		rp := node(doc, "Resources", queue, "Properties", "RedrivePolicy")
		if node(rp, "maxReceiveCount") == nil || ref(node(rp, "deadLetterTargetArn")) == "" {
			bad = append(bad, "the wake-up queue has no RedrivePolicy with a dead-letter queue and maxReceiveCount")
		}
	}
	sends := false
	for _, pol := range node(props, "Policies").Content {
		for _, st := range node(pol, "Statement").Content {
			if slices.Contains(scalars(node(st, "Action")), "sqs:SendMessage") && ref(node(st, "Resource")) == queue+".Arn" {
				sends = true
			}
		}
	}
	if !sends {
		bad = append(bad, "no policy allows sqs:SendMessage on the wake-up queue")
	}

	// Every event the template wires is one the handler accepts.
	sqsEvents := 0
	for _, ev := range pairs(node(props, "Events")) {
		name, typ := ev[0].Value, node(ev[1], "Type").Value
		ep := node(ev[1], "Properties")
		var payload []byte
		switch typ {
		case "ScheduleV2":
			in := "{}" // Scheduler's default input
			if v := node(ep, "Input"); v != nil {
				in = v.Value
			}
			in = strings.ReplaceAll(in, "<aws.scheduler.scheduled-time>", "2026-12-01T02:00:00Z")
			payload = []byte(in)
		case "SQS":
			sqsEvents++
			if strings.TrimSuffix(ref(node(ep, "Queue")), ".Arn") != queue {
				bad = append(bad, fmt.Sprintf("event %s reads another queue than %s", name, envSQSQueueURL))
			}
			if !slices.Contains(scalars(node(ep, "FunctionResponseTypes")), "ReportBatchItemFailures") {
				bad = append(bad, fmt.Sprintf("event %s does not report batch item failures", name))
			}
		}
		if payload == nil {
			file, ok := samEventFixtures[typ]
			if !ok {
				bad = append(bad, fmt.Sprintf("event %s: the handler accepts no %s events", name, typ))
				continue
			}
			b, err := os.ReadFile(filepath.Join("../../shared/lambdahandler/testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			payload = b
		}
		if err := acceptEvent(payload, typ == "ScheduleV2"); err != nil {
			bad = append(bad, fmt.Sprintf("event %s (%s): %v", name, typ, err))
		}
	}
	if sqsEvents != 1 {
		bad = append(bad, fmt.Sprintf("%d SQS events, want the wake-up queue's one", sqsEvents))
	}
	return bad
}

// acceptEvent invokes a handler over a recording pipeline with payload;
// sync says it must run the sync.
func acceptEvent(payload []byte, sync bool) error {
	p := &entrytest.Pipeline{}
	h, err := lambdahandler.New(lambdahandler.Options{Runs: p, Starts: p, Status: p, Failed: &entrytest.Keeper{},
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC) }})
	if err != nil {
		return err
	}
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		return err
	}
	if strings.Contains(string(out), `"batchItemFailures":[{`) || strings.Contains(string(out), `"statusCode":5`) {
		return fmt.Errorf("answered %s", out)
	}
	if sync && (len(p.CallsOf("Sync")) != 1 || !json.Valid(out)) {
		return fmt.Errorf("did not sync: %s", out)
	}
	return nil
}

func loadSAM(t *testing.T) (*yaml.Node, string) {
	t.Helper()
	b, err := os.ReadFile(samTemplate)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	d, err := os.ReadFile("../../docs/aws.md")
	if err != nil {
		t.Fatal(err)
	}
	return &doc, string(d)
}

// TestSAMTemplate keeps infra/aws/template.yaml and the Lambda host in step.
func TestSAMTemplate(t *testing.T) {
	doc, awsDoc := loadSAM(t)
	if bad := checkSAM(t, doc, awsDoc); len(bad) > 0 {
		t.Fatalf("infra/aws/template.yaml:\n  %s", strings.Join(bad, "\n  "))
	}
	if !slices.Contains(lambdaSettings, envSQSQueueURL) {
		t.Fatal("lambdaSettings lost the queue URL")
	}
}

// TestSAMTemplateSeesMismatches: every check fails on a seeded mismatch.
func TestSAMTemplateSeesMismatches(t *testing.T) {
	fnProps := []string{"Resources", "LangsyncFunction", "Properties"}
	set := func(path []string, value string) func(*yaml.Node) {
		return func(d *yaml.Node) { node(d, path...).Value = value }
	}
	del := func(path []string, key string) func(*yaml.Node) {
		return func(d *yaml.Node) {
			m := node(d, path...)
			for i := 0; i+1 < len(m.Content); i += 2 {
				if m.Content[i].Value == key {
					m.Content = append(m.Content[:i], m.Content[i+2:]...)
					return
				}
			}
			t.Fatalf("no %s under %v", key, path)
		}
	}
	addVar := func(name string) func(*yaml.Node) {
		return func(d *yaml.Node) {
			v := node(d, append(fnProps, "Environment", "Variables")...)
			v.Content = append(v.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, &yaml.Node{Kind: yaml.ScalarNode, Value: "x"})
		}
	}
	p := func(s ...string) []string { return append(slices.Clone(fnProps), s...) }
	tests := []struct {
		name   string
		mutate func(*yaml.Node)
		want   string
	}{
		{"Runtime", set(p("Runtime"), "go1.x"), "Runtime is not"},
		{"Arch", func(d *yaml.Node) { node(d, p("Architectures")...).Content[0].Value = "x86_64" }, "Architectures"},
		{"URLAuth", set(p("FunctionUrlConfig", "AuthType"), "NONE"), "AWS_IAM"},
		{"UnknownEventType", set(p("Events", "Sync", "Type"), "S3"), "accepts no S3 events"},
		{"SchedulerInputRefused", set(p("Events", "Sync", "Properties", "Input"), `{"action":"dance"}`), "unknown action"},
		{"NoBatchItemFailures", del(p("Events", "Wakeups", "Properties"), "FunctionResponseTypes"), "batch item failures"},
		{"OtherQueue", set(p("Events", "Wakeups", "Properties", "Queue"), "WakeupDeadLetterQueue.Arn"), "another queue"},
		{"NoDLQ", del([]string{"Resources", "WakeupQueue", "Properties"}, "RedrivePolicy"), "RedrivePolicy"},
		{"NoSendPolicy", func(d *yaml.Node) { node(d, p("Policies")...).Content = nil }, "sqs:SendMessage"},
		{"StoreUnset", del(p("Environment", "Variables"), config.EnvStore), "does not set LANGSYNC_STORE"},
		{"QueueUnset", del(p("Environment", "Variables"), envSQSQueueURL), "does not set LANGSYNC_SQS_QUEUE_URL"},
		{"UnreadVar", addVar("LANGSYNC_BOGUS"), "LANGSYNC_BOGUS, which the host does not read"},
		{"PlainSecret", set(p("Environment", "Variables", "AZURE_CLIENT_SECRET"), "hunter2"), "dynamic reference"},
		{"AuthKeys", set(p("Environment", "Variables", config.EnvAuth), "key"), "LANGSYNC_AUTH is not entra"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, awsDoc := loadSAM(t)
			tt.mutate(doc)
			bad := checkSAM(t, doc, awsDoc)
			if !strings.Contains(strings.Join(bad, "\n"), tt.want) {
				t.Fatalf("seeded %s: problems %q, want one containing %q", tt.name, bad, tt.want)
			}
		})
	}
	t.Run("UndocumentedOptional", func(t *testing.T) {
		doc, awsDoc := loadSAM(t)
		bad := checkSAM(t, doc, strings.ReplaceAll(awsDoc, "`"+envLambdaURLKey+"`", ""))
		if !strings.Contains(strings.Join(bad, "\n"), envLambdaURLKey+" is neither set nor documented") {
			t.Fatalf("problems %q", bad)
		}
	})
}
