package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// epoch is every file's and the image's time, so that the same inputs give the same digest.
var epoch = time.Unix(0, 0).UTC()

// file is one entry of a layer.
type file struct {
	path    string // absolute, in the image
	mode    int64  // Unix permission bits, sticky bit included
	uid     int
	gid     int
	content []byte // nil for a directory
	dir     bool
}

// base is a stand-in for a distroless static base image, which cannot be pulled here: the
// same users, groups, folders, CA certificates and environment, and no shell, no package
// manager, no libc.
type base struct {
	// user, home and env are the base image's config.
	user, home string
	env        []string
	files      []file
}

// distrolessPasswd and distrolessGroup are the accounts of gcr.io/distroless/static.
const (
	//nolint:gosec // /etc/passwd's "x" is not a password: the accounts have none
	distrolessPasswd = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	distrolessGroup  = "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n"
	caBundle         = "/etc/ssl/certs/ca-certificates.crt"
)

// bases are the base images hack/image can stand in for, by the name in FROM.
var bases = map[string]func(caCerts []byte) base{
	"gcr.io/distroless/static:nonroot":          func(ca []byte) base { return distroless(65532, "/home/nonroot", ca) },
	"gcr.io/distroless/static-debian12:nonroot": func(ca []byte) base { return distroless(65532, "/home/nonroot", ca) },
	"gcr.io/distroless/static":                  func(ca []byte) base { return distroless(0, "/root", ca) },
	"gcr.io/distroless/static:latest":           func(ca []byte) base { return distroless(0, "/root", ca) },
}

func distroless(uid int, home string, caCerts []byte) base {
	b := base{
		user: strconv.Itoa(uid),
		home: home,
		env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SSL_CERT_FILE=" + caBundle},
		files: []file{
			{path: "/etc", mode: 0o755, dir: true},
			{path: "/etc/passwd", mode: 0o644, content: []byte(distrolessPasswd)},
			{path: "/etc/group", mode: 0o644, content: []byte(distrolessGroup)},
			{path: "/etc/nsswitch.conf", mode: 0o644, content: []byte("hosts: files dns\n")},
			{path: "/etc/ssl", mode: 0o755, dir: true},
			{path: "/etc/ssl/certs", mode: 0o755, dir: true},
			{path: "/home", mode: 0o755, dir: true},
			{path: "/home/nonroot", mode: 0o700, uid: 65532, gid: 65532, dir: true},
			{path: "/root", mode: 0o700, dir: true},
			{path: "/tmp", mode: 0o1777, dir: true},
			{path: "/var", mode: 0o755, dir: true},
		},
	}
	if caCerts != nil {
		b.files = append(b.files, file{path: caBundle, mode: 0o644, content: caCerts})
	}
	return b
}

// spec is the image to build: a base, files on top, and the config.
type spec struct {
	name       string // e.g. localhost/streamreplay:dev
	base       base
	files      []file
	user       string
	workdir    string
	entrypoint []string
	cmd        []string
	env        []string
}

// build assembles the image: the base's files in one layer, the spec's in a second, as
// the Dockerfile's base image and its COPY give two layers.
func build(s spec) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var layers []v1.Layer
	for _, files := range [][]file{s.base.files, s.files} {
		l, err := layer(files)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, fmt.Errorf("adding layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = targetOS, goarch()
	cf.Created = v1.Time{Time: epoch}
	cf.Config = v1.Config{
		User:       firstOf(s.user, s.base.user),
		WorkingDir: firstOf(s.workdir, s.base.home),
		Entrypoint: s.entrypoint,
		Cmd:        s.cmd,
		Env:        mergeEnv(s.base.env, s.env),
	}
	cf.History = []v1.History{
		{Created: v1.Time{Time: epoch}, CreatedBy: "hack/image: stand-in for the base image", Comment: "base"},
		{Created: v1.Time{Time: epoch}, CreatedBy: "hack/image: " + s.name},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("setting the config: %w", err)
	}
	return img, nil
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// mergeEnv is the base's environment with the spec's variables set over it, as ENV does.
func mergeEnv(baseEnv, env []string) []string {
	out := append([]string(nil), baseEnv...)
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out {
			if strings.HasPrefix(old, name+"=") {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// layer writes files as a tar layer, parents first, with fixed times and owners by number.
func layer(files []file) (v1.Layer, error) {
	sorted := append([]file(nil), files...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].path < sorted[j].path })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range sorted {
		hdr := &tar.Header{
			Name:    strings.TrimPrefix(f.path, "/"),
			Mode:    f.mode,
			Uid:     f.uid,
			Gid:     f.gid,
			ModTime: epoch,
			Format:  tar.FormatPAX,
		}
		if f.dir {
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		} else {
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.content))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", f.path, err)
		}
		if _, err := tw.Write(f.content); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", f.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// parents are the folders above p that files do not list yet, so that a layer never has a
// file without its folder.
func parents(p string, have map[string]bool) []file {
	var out []file
	for dir := path.Dir(p); dir != "/" && dir != "."; dir = path.Dir(dir) {
		if !have[dir] {
			have[dir] = true
			out = append([]file{{path: dir, mode: 0o755, dir: true}}, out...)
		}
	}
	return out
}

// writeArchive writes the image as an OCI image layout in a tar file, the form
// `ctr images import` loads, named by the io.containerd.image.name annotation.
func writeArchive(img v1.Image, name, out string) error {
	dir, err := os.MkdirTemp("", "hack-image-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	p, err := layout.Write(dir, mutate.IndexMediaType(empty.Index, types.OCIImageIndex))
	if err != nil {
		return fmt.Errorf("writing the OCI layout: %w", err)
	}
	tag := "latest"
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		tag = name[i+1:]
	}
	if err := p.AppendImage(img,
		layout.WithAnnotations(map[string]string{
			"io.containerd.image.name":          name,
			"org.opencontainers.image.ref.name": tag,
		}),
		layout.WithPlatform(v1.Platform{OS: targetOS, Architecture: goarch()}),
	); err != nil {
		return fmt.Errorf("writing the image into the OCI layout: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o750); err != nil {
		return err
	}
	tmp := out + ".partial"
	if err := tarDir(dir, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// tarDir writes the files under dir into a tar file, in a fixed order.
func tarDir(dir, out string) error {
	f, err := os.Create(out) //nolint:gosec // the caller's output file
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name, hdr.ModTime, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = filepath.ToSlash(rel), epoch, 0, 0, "", ""
		hdr.Mode = 0o644
		if d.IsDir() {
			hdr.Name, hdr.Mode = hdr.Name+"/", 0o755
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		src, err := os.Open(p) //nolint:gosec // inside our own temporary folder
		if err != nil {
			return err
		}
		defer func() { _ = src.Close() }()
		_, err = io.Copy(tw, src)
		return err
	})
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}

// targetOS is the images' operating system.
const targetOS = "linux"

// goarch is the architecture of the images: this machine's, since they run on its node.
func goarch() string { return runtime.GOARCH }
