package config

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// healthKey is the argocd-cm key Argo CD reads the LoadTest health check from.
const healthKey = "resource.customizations.health.streamreplay.io_LoadTest"

// healthStatus is Argo CD's health.HealthStatus as a health check returns it.
type healthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// healthTests is Argo CD's health_test.yaml.
type healthTests struct {
	Tests []struct {
		InputPath    string       `json:"inputPath"`
		HealthStatus healthStatus `json:"healthStatus"`
	} `json:"tests"`
}

// validHealthStatuses are the codes Argo CD accepts from a health check.
var validHealthStatuses = []string{"Unknown", "Progressing", "Suspended", "Healthy", "Degraded", "Missing"}

// runHealthLua runs a health check as Argo CD's ExecuteHealthLua does (util/lua/lua.go):
// a fresh state without the standard libraries unless openLibs (the default for argocd-cm
// customisations; Argo CD's built-in checks and its own tests run with them), then the
// package, base and table libraries, a one-second deadline, the object as global `obj`, and
// the table left on the stack read back through JSON into a status and a message. Argo CD
// also loads a restricted os library; the health check does not use it.
func runHealthLua(script string, obj map[string]any, openLibs bool) (healthStatus, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: !openLibs})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return healthStatus{}, fmt.Errorf("opening the %s library: %w", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return healthStatus{}, err
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return healthStatus{}, fmt.Errorf("expect table output from Lua script, not %s", l.Get(-1).Type())
	}
	fields := map[string]any{}
	ret.ForEach(func(k, v lua.LValue) {
		switch v := v.(type) {
		case lua.LString:
			fields[k.String()] = string(v)
		case lua.LNumber:
			fields[k.String()] = float64(v)
		case lua.LBool:
			fields[k.String()] = bool(v)
		default:
			fields[k.String()] = v.String()
		}
	})
	data, err := json.Marshal(fields)
	if err != nil {
		return healthStatus{}, err
	}
	var hs healthStatus
	if err := json.Unmarshal(data, &hs); err != nil {
		return healthStatus{}, err
	}
	if !slices.Contains(validHealthStatuses, hs.Status) {
		return healthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return hs, nil
}

// toLua converts an object as Argo CD's decodeValue does.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for key, item := range v {
			t.RawSetH(lua.LString(key), toLua(l, item))
		}
		return t
	default:
		return lua.LNil
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func healthScript(t *testing.T) string {
	t.Helper()
	return readFile(t, repoPath("config", "argocd", "health.lua"))
}

// libModes are the two ways Argo CD runs a health check.
var libModes = []struct {
	name     string
	openLibs bool
}{
	{"argocd-cm default (no open libraries)", false},
	{"open libraries", true},
}

func TestArgoCDHealthCheckCases(t *testing.T) {
	dir := repoPath("config", "argocd")
	script := healthScript(t)
	var cases healthTests
	if err := yaml.UnmarshalStrict([]byte(readFile(t, filepath.Join(dir, "health_test.yaml"))), &cases); err != nil {
		t.Fatalf("reading health_test.yaml: %v", err)
	}
	if len(cases.Tests) == 0 {
		t.Fatal("health_test.yaml lists no cases")
	}

	listed := map[string]bool{}
	phases := map[string]bool{}
	for _, tc := range cases.Tests {
		listed[tc.InputPath] = true
		t.Run(tc.InputPath, func(t *testing.T) {
			obj := readObject(t, filepath.Join(dir, tc.InputPath))
			if phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase"); phase != "" {
				phases[phase] = true
			}
			for _, mode := range libModes {
				got, err := runHealthLua(script, obj.Object, mode.openLibs)
				if err != nil {
					t.Fatalf("%s: %v", mode.name, err)
				}
				if diff := cmp.Diff(tc.HealthStatus, got); diff != "" {
					t.Errorf("%s: health (-health_test.yaml +health.lua):\n%s", mode.name, diff)
				}
			}
		})
	}

	// Every fixture has its expected outcome, and every phase of the API has a case.
	for _, file := range fixtureFiles(t) {
		if !listed["testdata/"+file] {
			t.Errorf("testdata/%s is not listed in health_test.yaml", file)
		}
	}
	for _, phase := range crdPhases(t) {
		if !phases[phase] {
			t.Errorf("no case of health_test.yaml has phase %s", phase)
		}
	}
}

// fixtureFiles are the names of the objects in config/argocd/testdata.
func fixtureFiles(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(repoPath("config", "argocd", "testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no fixtures in config/argocd/testdata")
	}
	names := make([]string, 0, len(paths))
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	return names
}

// crdPhases reads the phases the CRD allows in status.phase.
func crdPhases(t *testing.T) []string {
	t.Helper()
	crd := readObject(t, repoPath("config", "crd", "bases", "streamreplay.io_loadtests.yaml"))
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if len(versions) == 0 {
		t.Fatal("the CRD has no versions")
	}
	enum, _, err := unstructured.NestedSlice(versions[0].(map[string]any),
		"schema", "openAPIV3Schema", "properties", "status", "properties", "phase", "enum")
	if err != nil || len(enum) == 0 {
		t.Fatalf("the CRD has no enum for status.phase (err %v)", err)
	}
	phases := make([]string, 0, len(enum))
	for _, p := range enum {
		phases = append(phases, fmt.Sprint(p))
	}
	sort.Strings(phases)
	return phases
}

func TestArgoCDHealthCheckOddShapes(t *testing.T) {
	script := healthScript(t)
	// Objects a health check must survive without a Lua error: odd but possible shapes.
	cases := []struct {
		name string
		obj  map[string]any
		want healthStatus
	}{{
		name: "empty status",
		obj:  map[string]any{"metadata": map[string]any{"generation": int64(1)}, "status": map[string]any{}},
		want: healthStatus{Status: "Progressing", Message: "Waiting for the streamreplay operator to start the LoadTest"},
	}, {
		name: "no observedGeneration",
		obj:  map[string]any{"metadata": map[string]any{"generation": int64(3)}, "status": map[string]any{"phase": "Running"}},
		want: healthStatus{Status: "Progressing", Message: "Waiting for the streamreplay operator to observe generation 3 (observed: none)"},
	}, {
		name: "running without readyPods nor message",
		obj:  map[string]any{"metadata": map[string]any{"generation": int64(1)}, "status": map[string]any{"phase": "Running", "observedGeneration": int64(1)}},
		want: healthStatus{Status: "Progressing", Message: "Running, ? pods ready"},
	}, {
		name: "failed without message",
		obj:  map[string]any{"metadata": map[string]any{"generation": int64(1)}, "status": map[string]any{"phase": "Error", "observedGeneration": int64(1)}},
		want: healthStatus{Status: "Degraded", Message: "Error"},
	}, {
		name: "a phase from a newer operator",
		obj:  map[string]any{"metadata": map[string]any{"generation": int64(1)}, "status": map[string]any{"phase": "Paused", "observedGeneration": int64(1)}},
		want: healthStatus{Status: "Unknown", Message: "Unknown LoadTest phase Paused"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runHealthLua(script, tc.obj, false)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("health (-want +got):\n%s", diff)
			}
		})
	}
}

// argoCDConfigMap is an argocd-cm as Argo CD's install manifests create it.
const argoCDConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
  url: https://argocd.example.com
`

// TestArgoCDConfigMapPatch checks both documented ways to install the health check: the
// argocd-cm patch with kubectl, and the kustomize Component. Each must carry health.lua
// unchanged and keep what argocd-cm already holds.
func TestArgoCDConfigMapPatch(t *testing.T) {
	script := healthScript(t)
	dir, err := filepath.Abs(repoPath("config", "argocd"))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "argocd-cm.yaml"), []byte(argoCDConfigMap), 0o600); err != nil {
		t.Fatal(err)
	}
	component, err := filepath.Rel(work, dir)
	if err != nil {
		t.Fatal(err)
	}
	kustomization := fmt.Sprintf("resources:\n- argocd-cm.yaml\ncomponents:\n- %s\n", filepath.ToSlash(component))
	if err := os.WriteFile(filepath.Join(work, "kustomization.yaml"), []byte(kustomization), 0o600); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		render func(t *testing.T) []byte
	}{{
		name: "kubectl patch --patch-file argocd-cm-patch.yaml",
		render: func(t *testing.T) []byte {
			return runKubectl(t, "patch", "--local", "-o", "yaml", "-f", filepath.Join(work, "argocd-cm.yaml"),
				"--type", "strategic", "--patch-file", filepath.Join(dir, "argocd-cm-patch.yaml"))
		},
	}, {
		name:   "kustomize component config/argocd",
		render: func(t *testing.T) []byte { return runKubectl(t, "kustomize", work) },
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := decodeObjects(tc.render(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != 1 {
				t.Fatalf("rendered %d objects, want the argocd-cm ConfigMap only", len(objs))
			}
			cm := objs[0]
			if got := describe(cm); got != "ConfigMap argocd/argocd-cm" {
				t.Errorf("rendered %s, want ConfigMap argocd/argocd-cm", got)
			}
			data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
			if diff := cmp.Diff(script, data[healthKey]); diff != "" {
				t.Errorf("data[%s] differs from health.lua (-health.lua +rendered):\n%s", healthKey, diff)
			}
			if data["url"] != "https://argocd.example.com" {
				t.Errorf("the patch lost argocd-cm's other keys: data is %v", data)
			}
		})
	}
}
