package controllers

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"sigs.k8s.io/yaml"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// loadTestCRD is the generated CRD: the only place the API's defaults are written down.
var loadTestCRD = filepath.Join("..", "config", "crd", "bases", "streamreplay.io_loadtests.yaml")

// loadTestSchema is the structural schema of the served version, read once.
var loadTestSchema = sync.OnceValues(func() (*structuralschema.Structural, error) {
	raw, err := os.ReadFile(loadTestCRD)
	if err != nil {
		return nil, fmt.Errorf("reading the CRD: %w", err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", loadTestCRD, err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != streamreplayv1alpha1.GroupVersion.Version {
			continue
		}
		var internal apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
			return nil, fmt.Errorf("converting the schema of %s: %w", v.Name, err)
		}
		s, err := structuralschema.NewStructural(&internal)
		if err != nil {
			return nil, fmt.Errorf("structural schema of %s: %w", v.Name, err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("%s has no version %s", loadTestCRD, streamreplayv1alpha1.GroupVersion.Version)
})

// withCRDDefaults returns a copy of lt as the API server stores it: sent as a Go client
// sends it (JSON), with the non-nullable nulls dropped and the CRD's defaults applied by the
// API server's own structural defaulting. Unit tests build their LoadTests with it, so that
// they can never drift from the CRD; envtest tests get the same from the real API server
// (TestCRDDefaultsAsTheAPIServerWrites checks that the two agree).
func withCRDDefaults(lt *streamreplayv1alpha1.LoadTest) *streamreplayv1alpha1.LoadTest {
	s, err := loadTestSchema()
	if err != nil {
		panic(err)
	}
	raw, err := json.Marshal(lt)
	if err != nil {
		panic(fmt.Errorf("encoding LoadTest %s: %w", lt.Name, err))
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		panic(fmt.Errorf("decoding LoadTest %s: %w", lt.Name, err))
	}
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj, s)
	structuraldefaulting.Default(obj, s)
	if raw, err = json.Marshal(obj); err != nil {
		panic(fmt.Errorf("encoding defaulted LoadTest %s: %w", lt.Name, err))
	}
	out := &streamreplayv1alpha1.LoadTest{}
	if err := json.Unmarshal(raw, out); err != nil {
		panic(fmt.Errorf("decoding defaulted LoadTest %s: %w", lt.Name, err))
	}
	return out
}
