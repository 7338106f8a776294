// Command image builds the project's container images without Docker, as OCI archives that
// `ctr images import` loads (the real node of hack/realnode has no registry).
//
// With -dockerfile it reproduces that Dockerfile: it runs the builder stage's `go build`
// with the same flags and environment in the repository, and assembles the final stage
// (base, COPY of the binary, WORKDIR, USER, ENTRYPOINT, CMD, ENV) on a stand-in for the
// distroless base. It refuses any instruction it cannot reproduce exactly, so that the
// Dockerfile and this build cannot drift apart silently.
//
// Without -dockerfile it puts the -file arguments on the same base, for the test images
// (the pause container, the test kit).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "hack/image: %v\n", err)
		os.Exit(1)
	}
}

type fileFlags []string

func (f *fileFlags) String() string     { return strings.Join(*f, ",") }
func (f *fileFlags) Set(v string) error { *f = append(*f, v); return nil }

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	dockerfile := fs.String("dockerfile", "", "reproduce this Dockerfile (its go build runs in -context)")
	context := fs.String("context", ".", "the Dockerfile's build context: the repository root")
	name := fs.String("name", "", "image name, e.g. localhost/streamreplay:dev (required)")
	out := fs.String("out", "", "the OCI archive to write (required)")
	caCerts := fs.String("ca-certs", caBundle, "CA bundle to install as the base image's "+caBundle+" (empty: none)")
	baseName := fs.String("base", "gcr.io/distroless/static:nonroot", "base image to stand in for, without -dockerfile")
	entrypoint := fs.String("entrypoint", "", `entrypoint as a JSON list, without -dockerfile, e.g. ["/pause"]`)
	user := fs.String("user", "65532:65532", "user, without -dockerfile")
	var files fileFlags
	fs.Var(&files, "file", "SRC:DST a local file to put at DST (mode 0755, owner 0:0), without -dockerfile; repeatable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || *out == "" {
		return errors.New("-name and -out are required")
	}
	var ca []byte
	if *caCerts != "" {
		var err error
		if ca, err = os.ReadFile(*caCerts); err != nil {
			return fmt.Errorf("the CA bundle: %w (install ca-certificates, or -ca-certs='')", err)
		}
	}

	var s spec
	var err error
	if *dockerfile != "" {
		s, err = fromDockerfile(*dockerfile, *context, ca)
	} else {
		s, err = fromFlags(*baseName, *entrypoint, *user, files, ca)
	}
	if err != nil {
		return err
	}
	s.name = *name
	img, err := build(s)
	if err != nil {
		return err
	}
	if err := writeArchive(img, s.name, *out); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s %s\n", s.name, digest, *out)
	return nil
}

// fromDockerfile builds the Dockerfile's binary and returns its final stage as a spec.
func fromDockerfile(dockerfile, context string, ca []byte) (spec, error) {
	rec, err := readRecipe(dockerfile, map[string]string{"TARGETOS": targetOS, "TARGETARCH": goarch()})
	if err != nil {
		return spec{}, err
	}
	if err := checkGoVersion(rec.builderBase); err != nil {
		return spec{}, err
	}
	if _, ok := bases[rec.final.base]; !ok {
		return spec{}, fmt.Errorf("%s: FROM %s: hack/image has no stand-in for this base image", dockerfile, rec.final.base)
	}
	binary, err := runGoBuild(rec.build, context)
	if err != nil {
		return spec{}, err
	}
	s, err := specFromRecipe(rec, binary, ca)
	if err != nil {
		return spec{}, fmt.Errorf("%s: %w", dockerfile, err)
	}
	return s, nil
}

// specFromRecipe is the Dockerfile's final stage with binary as the builder's output.
func specFromRecipe(rec *recipe, binary, ca []byte) (spec, error) {
	newBase, ok := bases[rec.final.base]
	if !ok {
		return spec{}, fmt.Errorf("FROM %s: hack/image has no stand-in for this base image", rec.final.base)
	}
	s := spec{
		base:       newBase(ca),
		user:       rec.final.user,
		workdir:    rec.final.workdir,
		entrypoint: rec.final.entrypoint,
		cmd:        rec.final.cmd,
		env:        rec.final.env,
	}
	have := map[string]bool{}
	for _, c := range rec.final.copies {
		uid, gid, err := parseChown(c.chown)
		if err != nil {
			return spec{}, fmt.Errorf("line %d: %w", c.line, err)
		}
		s.files = append(s.files, parents(c.dst, have)...)
		s.files = append(s.files, file{path: c.dst, mode: 0o755, uid: uid, gid: gid, content: binary})
	}
	return s, nil
}

// checkGoVersion compares the builder stage's golang:<version> with the Go that builds here.
func checkGoVersion(builderBase string) error {
	_, tag, ok := strings.Cut(builderBase, "golang:")
	if !ok {
		return fmt.Errorf("the builder stage is FROM %s, not a golang image", builderBase)
	}
	version, _, _ := strings.Cut(tag, "-") // golang:1.26-bookworm
	if have := strings.TrimPrefix(runtime.Version(), "go"); have != version && !strings.HasPrefix(have, version+".") {
		return fmt.Errorf("the Dockerfile builds with Go %s, this build with Go %s", version, have)
	}
	return nil
}

// runGoBuild runs the builder stage's go build in the repository and returns the binary.
func runGoBuild(b goBuild, context string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "hack-image-build-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	args := append([]string{"build"}, b.args...)
	for i := range args {
		if args[i] == "-o" && i+1 < len(args) {
			args[i+1] = filepath.Join(dir, "binary")
		}
	}
	cmd := exec.Command("go", args...) //nolint:gosec // the Dockerfile's own build command
	cmd.Dir = context
	cmd.Env = append(os.Environ(), b.env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	fmt.Fprintf(os.Stderr, "hack/image: %s go build %s (Dockerfile line %d)\n", strings.Join(b.env, " "), strings.Join(b.args, " "), b.line)
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build of the Dockerfile's line %d: %w", b.line, err)
	}
	return os.ReadFile(filepath.Join(dir, "binary")) //nolint:gosec // our own temporary folder
}

func parseChown(chown string) (uid, gid int, err error) {
	if chown == "" {
		return 0, 0, nil
	}
	u, g, _ := strings.Cut(chown, ":")
	if uid, err = strconv.Atoi(u); err != nil {
		return 0, 0, fmt.Errorf("COPY --chown=%s: only numeric owners are reproduced", chown)
	}
	gid = uid
	if g != "" {
		if gid, err = strconv.Atoi(g); err != nil {
			return 0, 0, fmt.Errorf("COPY --chown=%s: only numeric owners are reproduced", chown)
		}
	}
	return uid, gid, nil
}

// fromFlags is an image of local files on a base, for the test images.
func fromFlags(baseName, entrypoint, user string, files []string, ca []byte) (spec, error) {
	newBase, ok := bases[baseName]
	if !ok {
		return spec{}, fmt.Errorf("-base %s: no stand-in for this base image", baseName)
	}
	s := spec{base: newBase(ca), user: user, workdir: "/"}
	if err := json.Unmarshal([]byte(entrypoint), &s.entrypoint); err != nil || len(s.entrypoint) == 0 {
		return spec{}, fmt.Errorf(`-entrypoint %q: want a JSON list such as ["/pause"]`, entrypoint)
	}
	have := map[string]bool{}
	for _, f := range files {
		src, dst, ok := strings.Cut(f, ":")
		if !ok || !strings.HasPrefix(dst, "/") {
			return spec{}, fmt.Errorf("-file %s: want SRC:/DST", f)
		}
		content, err := os.ReadFile(src) //nolint:gosec // the caller's file
		if err != nil {
			return spec{}, err
		}
		s.files = append(s.files, parents(dst, have)...)
		s.files = append(s.files, file{path: dst, mode: 0o755, content: content})
	}
	return s, nil
}
