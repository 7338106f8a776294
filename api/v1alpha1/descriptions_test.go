package v1alpha1_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// upstreamFields hold Kubernetes' own types, whose descriptions come from Kubernetes.
var upstreamFields = map[string]bool{
	"apiVersion":                      true,
	"kind":                            true,
	"spec.workerTemplate.resources":   true,
	"spec.workerTemplate.affinity":    true,
	"spec.workerTemplate.tolerations": true,
	"status.conditions":               true,
}

// midSentence is a line break that `kubectl explain` would show inside a sentence: one
// that does not follow the end of a sentence or clause.
var midSentence = regexp.MustCompile(`[^.:;!?)\n]\n[^\n]`)

// TestDescriptionsBreakOnlyBetweenSentences reads the generated CRD: controller-gen keeps
// the line breaks of doc comments, and `kubectl explain` shows them, so a comment wrapped
// in the middle of a sentence reads broken there. Each sentence is one comment line.
func TestDescriptionsBreakOnlyBetweenSentences(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "streamreplay.io_loadtests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatalf("decoding the CRD: %v", err)
	}
	var broken []string
	checked := 0
	var walk func(path string, s *apiextensionsv1.JSONSchemaProps)
	walk = func(path string, s *apiextensionsv1.JSONSchemaProps) {
		if upstreamFields[path] {
			return
		}
		if s.Description != "" {
			checked++
			if loc := midSentence.FindStringIndex(s.Description); loc != nil {
				broken = append(broken, path+": "+strings.ReplaceAll(s.Description[max(0, loc[0]-40):min(len(s.Description), loc[1]+20)], "\n", `\n`))
			}
		}
		for name, p := range s.Properties {
			walk(strings.TrimPrefix(path+"."+name, "."), &p)
		}
		if s.Items != nil && s.Items.Schema != nil {
			walk(path, s.Items.Schema)
		}
	}
	for _, v := range crd.Spec.Versions {
		walk("", v.Schema.OpenAPIV3Schema)
	}
	sort.Strings(broken)
	for _, b := range broken {
		t.Errorf("description breaks a line mid-sentence: %s", b)
	}
	if checked < 100 {
		t.Errorf("only %d descriptions checked; is the CRD complete?", checked)
	}
}
