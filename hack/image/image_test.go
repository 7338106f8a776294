package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// dockerfileFacts reads the final stage of a Dockerfile with plain regular expressions,
// independently of parseDockerfile, so that the test compares the image with the file and
// not the parser with itself.
type dockerfileFacts struct {
	base, user, workdir string
	entrypoint          []string
	copies              map[string]string // destination -> source in the builder
	builderRun          string            // the builder's go build line
}

func readFacts(t *testing.T, path string) dockerfileFacts {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var facts dockerfileFacts
	from := regexp.MustCompile(`^FROM\s+(\S+)`)
	copyFrom := regexp.MustCompile(`^COPY\s+--from=\S+\s+(\S+)\s+(\S+)$`)
	stages := 0
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		switch {
		case from.MatchString(line):
			stages++
			facts.base = from.FindStringSubmatch(line)[1]
			facts.copies, facts.user, facts.workdir, facts.entrypoint = map[string]string{}, "", "", nil
		case strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build"):
			facts.builderRun = strings.TrimPrefix(line, "RUN ")
		case strings.HasPrefix(line, "USER "):
			facts.user = strings.TrimPrefix(line, "USER ")
		case strings.HasPrefix(line, "WORKDIR "):
			facts.workdir = strings.TrimPrefix(line, "WORKDIR ")
		case strings.HasPrefix(line, "ENTRYPOINT "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "ENTRYPOINT ")), &facts.entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT of %s: %v", path, err)
			}
		case copyFrom.MatchString(line):
			m := copyFrom.FindStringSubmatch(line)
			facts.copies[m[2]] = m[1]
		}
	}
	if stages < 2 {
		t.Fatalf("%s: %d stages", path, stages)
	}
	return facts
}

// TestRepositoryDockerfileIsReproduced builds the image of the repository's Dockerfile
// (with a stand-in binary) and compares it with what the Dockerfile's final stage says:
// base, user, working folder, entrypoint, the copied binary; and the base's layout: the
// distroless users, no shell.
func TestRepositoryDockerfileIsReproduced(t *testing.T) {
	const dockerfile = "../../Dockerfile"
	facts := readFacts(t, dockerfile)
	rec, err := readRecipe(dockerfile, map[string]string{"TARGETOS": targetOS, "TARGETARCH": goarch()})
	if err != nil {
		t.Fatal(err)
	}
	// The go build the image builder runs is the Dockerfile's, flags and environment.
	wantRun := strings.Join(append(append([]string{}, rec.build.env...), append([]string{"go", "build"}, rec.build.args...)...), " ")
	if got := strings.NewReplacer(`${TARGETARCH}`, goarch(), `"`, "").Replace(facts.builderRun); got != wantRun {
		t.Errorf("the Dockerfile builds with\n  %s\nhack/image would run\n  %s", got, wantRun)
	}
	binary := []byte("\x7fELF stand-in for the binary")
	s, err := specFromRecipe(rec, binary, []byte("CA bundle"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := build(s)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := bases[facts.base]; !ok {
		t.Errorf("the final stage is FROM %s, which hack/image has no stand-in for", facts.base)
	}
	if cf.Config.User != facts.user || facts.user == "" {
		t.Errorf("image user %q, Dockerfile USER %q", cf.Config.User, facts.user)
	}
	if cf.Config.WorkingDir != facts.workdir {
		t.Errorf("image working folder %q, Dockerfile WORKDIR %q", cf.Config.WorkingDir, facts.workdir)
	}
	if diff := cmp.Diff(facts.entrypoint, cf.Config.Entrypoint); diff != "" {
		t.Errorf("entrypoint (-Dockerfile +image):\n%s", diff)
	}
	if cf.OS != targetOS || cf.Architecture != goarch() {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	files := imageFiles(t, img)
	for dst, src := range facts.copies {
		f, ok := files[strings.TrimPrefix(dst, "/")]
		if !ok || !bytes.Equal(f.content, binary) || f.mode != 0o755 || f.uid != 0 {
			t.Errorf("COPY %s %s: the image has %+v", src, dst, f)
		}
		if src != rec.build.output {
			t.Errorf("the Dockerfile copies %s; the builder writes %s", src, rec.build.output)
		}
	}
	if !strings.Contains(string(files["etc/passwd"].content), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd has no nonroot 65532:\n%s", files["etc/passwd"].content)
	}
	if f := files["home/nonroot"]; f.uid != 65532 || f.mode != 0o700 {
		t.Errorf("/home/nonroot: %+v, want 0700 owned by 65532", f)
	}
	if f := files["tmp"]; f.mode != 0o1777 {
		t.Errorf("/tmp mode %#o, want 01777", f.mode)
	}
	for name := range files {
		if strings.HasPrefix(name, "bin/") || strings.HasPrefix(name, "usr/") || strings.HasSuffix(name, "/sh") {
			t.Errorf("the image has %s: distroless static has no shell and no programs", name)
		}
	}
}

type tarFile struct {
	content []byte
	mode    int64
	uid     int
}

// imageFiles flattens the image's layers.
func imageFiles(t *testing.T, img v1.Image) map[string]tarFile {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]tarFile{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			content, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[strings.TrimSuffix(hdr.Name, "/")] = tarFile{content: content, mode: hdr.Mode, uid: hdr.Uid}
		}
		_ = rc.Close()
	}
	return out
}

// TestArchiveNamesTheImage writes an archive and reads it the way ctr images import does:
// an OCI layout whose index names the image.
func TestArchiveNamesTheImage(t *testing.T) {
	s, err := fromFlags("gcr.io/distroless/static:nonroot", `["/pause"]`, "65532:65532", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.name = "localhost/pause:local"
	img, err := build(s)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "pause.tar")
	if err := writeArchive(img, s.name, out); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	var names []string
	var index struct {
		Manifests []struct {
			MediaType   string            `json:"mediaType"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		if hdr.Name == "index.json" {
			if err := json.NewDecoder(tr).Decode(&index); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !slices.Contains(names, "oci-layout") || len(index.Manifests) != 1 {
		t.Fatalf("not an OCI layout with one image: %v, %+v", names, index)
	}
	m := index.Manifests[0]
	if m.MediaType != "application/vnd.oci.image.manifest.v1+json" ||
		m.Annotations["io.containerd.image.name"] != "localhost/pause:local" || m.Annotations["org.opencontainers.image.ref.name"] != "local" {
		t.Errorf("index entry %+v: want an OCI manifest named localhost/pause:local", m)
	}
}

// TestRefusesWhatItCannotReproduce: a Dockerfile the builder cannot reproduce exactly
// fails, naming the line, rather than giving another image.
func TestRefusesWhatItCannotReproduce(t *testing.T) {
	const builder = "FROM golang:1.26 AS builder\nWORKDIR /workspace\nRUN CGO_ENABLED=0 go build -o app .\n"
	for _, tc := range []struct{ name, dockerfile, want string }{
		{"RUN in the final stage", builder + "FROM gcr.io/distroless/static:nonroot\nCOPY --from=builder /workspace/app /app\nRUN echo hi\nENTRYPOINT [\"/app\"]\n", "line 6: RUN in the final stage"},
		{"ADD", builder + "FROM gcr.io/distroless/static:nonroot\nADD x /x\nENTRYPOINT [\"/app\"]\n", "line 5: ADD in the final stage"},
		{"COPY from the context", builder + "FROM gcr.io/distroless/static:nonroot\nCOPY app /app\nENTRYPOINT [\"/app\"]\n", "line 5: COPY app /app"},
		{"shell-form ENTRYPOINT", builder + "FROM gcr.io/distroless/static:nonroot\nCOPY --from=builder /workspace/app /app\nENTRYPOINT /app\n", "line 6: ENTRYPOINT /app: only the JSON"},
		{"another file of the builder", builder + "FROM gcr.io/distroless/static:nonroot\nCOPY --from=builder /etc/passwd /etc/passwd\nENTRYPOINT [\"/app\"]\n", "line 5: COPY --from=builder /etc/passwd"},
		{"a shell pipeline", "FROM golang:1.26 AS builder\nRUN go build -o app . && strip app\nFROM gcr.io/distroless/static:nonroot\nENTRYPOINT [\"/app\"]\n", `line 2: RUN go build -o app . && strip app: '&' needs a shell`},
		{"another RUN", "FROM golang:1.26 AS builder\nRUN apt-get install -y upx\nFROM gcr.io/distroless/static:nonroot\nENTRYPOINT [\"/app\"]\n", "line 2: RUN apt-get install -y upx: hack/image reproduces only"},
		{"three stages", builder + "FROM alpine\nFROM gcr.io/distroless/static:nonroot\nENTRYPOINT [\"/app\"]\n", "3 stages, want 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "Dockerfile")
			if err := os.WriteFile(path, []byte(tc.dockerfile), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := readRecipe(path, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestShellWords(t *testing.T) {
	vars := map[string]string{"TARGETARCH": "amd64", "EMPTY": ""}
	for _, tc := range []struct {
		line string
		want []string
	}{
		{`CGO_ENABLED=0 GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o streamreplay .`,
			[]string{"CGO_ENABLED=0", "GOARCH=amd64", "go", "build", "-trimpath", "-ldflags=-s -w", "-o", "streamreplay", "."}},
		{`go build -ldflags '-X main.v=$TARGETARCH' "-o" a\ b`, []string{"go", "build", "-ldflags", "-X main.v=$TARGETARCH", "-o", "a b"}},
		{`GOARCH=$EMPTY go build "a\"b"`, []string{"GOARCH=", "go", "build", `a"b`}},
	} {
		got, err := shellWords(tc.line, vars)
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.line, diff)
		}
	}
	for _, bad := range []string{`go build $UNKNOWN`, `go build "open`, "go build `x`", `go build ${TARGETARCH:-x}`} {
		if _, err := shellWords(bad, vars); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
