// helm-render renders a Helm chart directory the way `helm template` does, for the chart tests in
// test/charts: the helm binary is not in this project's package sources, Debian's golang and sprig are.
//
// Semantics kept from Helm 3 (pkg/engine, pkg/chartutil): Go text/template with sprig's TxtFuncMap
// (minus env/expandenv) plus include, tpl, required, fail, toYaml, fromYaml, fromYamlArray, toJson,
// fromJson, lookup; option missingkey=zero and "<no value>" replaced by ""; values.yaml deep-merged
// under each -f file in order (a null removes a key); numbers are float64 (YAML read through JSON);
// every file under templates/ not starting with "_" is rendered, whitespace-only results are dropped,
// NOTES.txt is skipped (--notes renders only it, as `helm install` prints it).
//
// lookup finds nothing, as in `helm template`, unless --existing names a YAML file of objects (one
// document each) that stand for what the cluster already holds: then it answers as `helm install`
// against that cluster would (one object by name, or {"items": [...]} for an empty name).
//
// Usage: helm-render [--name RELEASE] [--namespace NS] [-f values.yaml]... [--existing objects.yaml]
//
//	[--notes] CHART_DIR
//
// Build (offline, Debian packages golang-go golang-github-masterminds-sprig-dev golang-github-ghodss-yaml-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o BIN ./tools/helm-render
//
// In GOPATH mode Debian's sprig v3 lives at github.com/Masterminds/sprig (no /v3 suffix).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"github.com/ghodss/yaml"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "helm-render:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	release, namespace, chartDir, existingFile := "release", "default", "", ""
	notes := false
	var files valueFiles
	for i := 0; i < len(args); i++ {
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", args[i])
			}
			i++
			return args[i], nil
		}
		var err error
		switch args[i] {
		case "--name":
			release, err = next()
		case "--namespace", "-n":
			namespace, err = next()
		case "-f", "--values":
			var f string
			f, err = next()
			files = append(files, f)
		case "--existing":
			existingFile, err = next()
		case "--notes":
			notes = true
		default:
			if strings.HasPrefix(args[i], "-") || chartDir != "" {
				return fmt.Errorf("unexpected argument %q", args[i])
			}
			chartDir = args[i]
		}
		if err != nil {
			return err
		}
	}
	if chartDir == "" {
		return errors.New("usage: helm-render [--name RELEASE] [--namespace NS] [-f values.yaml]... CHART_DIR")
	}

	chartMeta := map[string]interface{}{}
	if err := readYAML(filepath.Join(chartDir, "Chart.yaml"), &chartMeta); err != nil {
		return err
	}
	values := map[string]interface{}{}
	var err error
	if err := readYAML(filepath.Join(chartDir, "values.yaml"), &values); err != nil && !os.IsNotExist(errors.Unwrap(err)) {
		return err
	}
	for _, f := range files {
		override := map[string]interface{}{}
		if err := readYAML(f, &override); err != nil {
			return err
		}
		values = merge(values, override)
	}
	chartName, _ := chartMeta["name"].(string)
	// Helm exposes Chart.yaml's fields capitalised (Chart.Name, Chart.AppVersion, ...).
	chart := map[string]interface{}{}
	for k, v := range chartMeta {
		chart[strings.ToUpper(k[:1])+k[1:]] = v
	}

	// Every file under templates/, named as Helm names them: CHART/templates/PATH.
	sources := map[string]string{}
	root := filepath.Join(chartDir, "templates")
	err = filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(chartDir, p)
		b, err := os.ReadFile(p)
		sources[path.Join(chartName, filepath.ToSlash(rel))] = string(b)
		return err
	})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, n)
	}
	sort.Strings(names)

	existing, err := readObjects(existingFile)
	if err != nil {
		return err
	}
	t := template.New("gotpl").Option("missingkey=zero")
	funcs := funcMap(t, existing)
	t.Funcs(funcs)
	for _, n := range names {
		if _, err := t.New(n).Parse(sources[n]); err != nil {
			return err
		}
	}
	top := map[string]interface{}{
		"Values": values,
		"Chart":  chart,
		"Release": map[string]interface{}{
			"Name": release, "Namespace": namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": "v1.31.0", "GitVersion": "v1.31.0", "Major": "1", "Minor": "31"},
			"APIVersions": apiVersions{},
		},
		"Files": files_{dir: chartDir},
	}
	var out bytes.Buffer
	for _, n := range names {
		base := path.Base(n)
		if strings.HasPrefix(base, "_") || (base == "NOTES.txt") != notes {
			continue
		}
		var buf bytes.Buffer
		scope := withTemplate(top, n)
		if err := t.ExecuteTemplate(&buf, n, scope); err != nil {
			return err
		}
		s := strings.ReplaceAll(buf.String(), "<no value>", "")
		if strings.TrimSpace(s) == "" {
			continue
		}
		if notes {
			out.WriteString(s)
		} else {
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", n, strings.TrimRight(s, "\n"))
		}
	}
	_, err = os.Stdout.Write(out.Bytes())
	return err
}

func withTemplate(top map[string]interface{}, name string) map[string]interface{} {
	scope := map[string]interface{}{}
	for k, v := range top {
		scope[k] = v
	}
	scope["Template"] = map[string]interface{}{"Name": name, "BasePath": path.Join(strings.SplitN(name, "/", 2)[0], "templates")}
	return scope
}

type apiVersions struct{}

// Has answers as `helm template` without --api-versions does: only the built-in groups.
func (apiVersions) Has(v string) bool { return !strings.Contains(v, "monitoring.coreos.com") }

type files_ struct{ dir string }

func (f files_) Get(name string) string {
	b, err := os.ReadFile(filepath.Join(f.dir, filepath.FromSlash(name)))
	if err != nil {
		return ""
	}
	return string(b)
}

func readYAML(file string, into *map[string]interface{}) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		return fmt.Errorf("%s: %v", file, err)
	}
	if *into == nil {
		*into = map[string]interface{}{}
	}
	return nil
}

// merge: override wins; maps merge recursively; an explicit null removes the key (Helm's coalescing).
func merge(base, override map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range override {
		if v == nil {
			delete(out, k)
			continue
		}
		if ov, ok := v.(map[string]interface{}); ok {
			if bv, ok := out[k].(map[string]interface{}); ok {
				out[k] = merge(bv, ov)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// readObjects reads the --existing file: Kubernetes objects, one YAML document each.
func readObjects(file string) ([]map[string]interface{}, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var objects []map[string]interface{}
	for _, doc := range strings.Split("\n"+string(b), "\n---") {
		o := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		if len(o) > 0 {
			objects = append(objects, o)
		}
	}
	return objects, nil
}

// lookup answers as Helm's does against a cluster holding `existing`: the object, or an empty map; with
// an empty name, {"items": [...]} of that kind (in that namespace, or everywhere for "").
func lookup(existing []map[string]interface{}, apiVersion, kind, namespace, name string) map[string]interface{} {
	var items []interface{}
	for _, o := range existing {
		meta, _ := o["metadata"].(map[string]interface{})
		if o["apiVersion"] != apiVersion || o["kind"] != kind || meta == nil {
			continue
		}
		if ns, _ := meta["namespace"].(string); namespace != "" && ns != namespace {
			continue
		}
		if name == "" {
			items = append(items, o)
		} else if meta["name"] == name {
			return o
		}
	}
	if name == "" {
		return map[string]interface{}{"items": items}
	}
	return map[string]interface{}{}
}

func funcMap(t *template.Template, existing []map[string]interface{}) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	includedNames := map[string]int{}
	f["include"] = func(name string, data interface{}) (string, error) {
		if includedNames[name] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		includedNames[name]++
		defer func() { includedNames[name]-- }()
		var buf bytes.Buffer
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		c, err := t.Clone()
		if err != nil {
			return "", err
		}
		c, err = c.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = c.Execute(&buf, data)
		return strings.ReplaceAll(buf.String(), "<no value>", ""), err
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	f["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	f["toYaml"] = func(v interface{}) string {
		b, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(b), "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromYamlArray"] = func(s string) []interface{} {
		a := []interface{}{}
		if err := yaml.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	f["fromJsonArray"] = func(s string) []interface{} {
		a := []interface{}{}
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	f["toJson"] = func(v interface{}) string {
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return lookup(existing, apiVersion, kind, namespace, name), nil
	}
	return f
}
