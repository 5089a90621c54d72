package customhandlertest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Binding is one entry of a function.json "bindings" array (the properties
// langsync uses;
// docs/reference/functions-protocol.md#functionjson-per-binding).
type Binding struct {
	Name         string `json:"name"`
	Type         string `json:"type"`
	Direction    string `json:"direction"`
	DataType     string `json:"dataType,omitempty"`
	QueueName    string `json:"queueName,omitempty"`
	Connection   string `json:"connection,omitempty"`
	Schedule     string `json:"schedule,omitempty"`
	RunOnStartup bool   `json:"runOnStartup,omitempty"`
	UseMonitor   *bool  `json:"useMonitor,omitempty"`
	Path         string `json:"path,omitempty"`
	// Source is a blob trigger's event source: "EventGrid" (the only one
	// Flex Consumption runs; Event Grid delivers BlobCreated to the host)
	// or empty/"LogsAndContainerScan" (the host polls). The simulator
	// delivers both the same way: DeliverBlob, or ScanBlobs standing in for
	// the events.
	Source    string   `json:"source,omitempty"`
	AuthLevel string   `json:"authLevel,omitempty"`
	Methods   []string `json:"methods,omitempty"`
	Route     string   `json:"route,omitempty"`
}

// Function is one function folder: its name and function.json.
type Function struct {
	Name     string          `json:"-"`
	Bindings []Binding       `json:"bindings"`
	Retry    json.RawMessage `json:"retry,omitempty"`
	Disabled bool            `json:"disabled,omitempty"`
}

// Trigger returns the function's trigger binding (type ending in
// "Trigger", direction in), or nil.
func (f *Function) Trigger() *Binding {
	for i, b := range f.Bindings {
		if b.Direction == "in" && strings.HasSuffix(b.Type, "Trigger") {
			return &f.Bindings[i]
		}
	}
	return nil
}

// Binding returns the first binding of the given type and direction, or nil.
func (f *Function) Binding(typ, direction string) *Binding {
	for i, b := range f.Bindings {
		if b.Type == typ && b.Direction == direction {
			return &f.Bindings[i]
		}
	}
	return nil
}

// LoadFunctions reads <dir>/*/function.json the way the host does: every direct
// sub-folder with a function.json is a function named after the folder; nothing
// deeper is scanned (docs/reference/functions-protocol.md#folder-rules). Sorted
// by name.
func LoadFunctions(dir string) ([]Function, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("customhandlertest: reading functions: %w", err)
	}
	var fns []Function
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "function.json"))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("customhandlertest: %w", err)
		}
		f := Function{Name: e.Name()}
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("customhandlertest: functions/%s/function.json: %w", e.Name(), err)
		}
		if f.Trigger() == nil {
			return nil, fmt.Errorf("customhandlertest: functions/%s/function.json has no trigger binding", e.Name())
		}
		fns = append(fns, f)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
	return fns, nil
}

// resolve expands %NAME% app-setting references as the host does at start.
func resolve(s string, settings func(string) string) string {
	if !strings.Contains(s, "%") || settings == nil {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(settings(s[i+1 : i+1+j]))
		s = s[i+2+j:]
	}
}
