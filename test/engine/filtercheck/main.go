// filtercheck runs Sensor dependency filters through Argo Events' own filter code
// (pkg/sensors/dependencies.Filter), so tests can compare resource-hooks' trigger decisions with
// what the real Sensor does. Input: JSON lines {"script": "...", "data": {...}} on stdin.
// Output: one JSON line {"pass": bool, "error": "..."} per input line.
package main

import (
	"bufio"
	"encoding/json"
	"os"
	"time"

	"github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/sensors/dependencies"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type input struct {
	Script string          `json:"script"`
	Data   json.RawMessage `json:"data"`
}

type output struct {
	Pass  bool   `json:"pass"`
	Error string `json:"error,omitempty"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<20), 64<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req input
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			_ = out.Encode(output{Error: err.Error()})
			continue
		}
		event := &v1alpha1.Event{
			Context: &v1alpha1.EventContext{ID: "check", Source: "check", SpecVersion: "1.0", Type: "resource", Subject: "check", Time: metav1.Time{Time: time.Now()}},
			Data:    req.Data,
		}
		pass, err := dependencies.Filter(event, &v1alpha1.EventDependencyFilter{Script: req.Script}, "")
		res := output{Pass: pass}
		if err != nil {
			res.Error = err.Error()
		}
		_ = out.Encode(res)
	}
}
