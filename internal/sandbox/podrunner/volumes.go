package podrunner

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// dirMode is the mode of the folders the runner makes: the processes run as the
// runner's user, so nobody else needs them.
const dirMode = 0o750

// materialiseVolumes makes each volume of the pod a local folder and returns them by
// volume name. ConfigMap and Secret volumes are written afresh on each call, so a
// retry after a missing object starts clean.
func (w *podWorker) materialiseVolumes(ctx context.Context, objs *objects) (map[string]string, error) {
	access := podFileAccess(w.pod)
	dirs := make(map[string]string, len(w.pod.Spec.Volumes))
	for i := range w.pod.Spec.Volumes {
		v := &w.pod.Spec.Volumes[i]
		local := filepath.Join(w.dir, "volumes", v.Name)
		var err error
		switch src := v.VolumeSource; {
		case src.EmptyDir != nil:
			err = os.MkdirAll(local, dirMode)
		case src.ConfigMap != nil:
			err = writeConfigMapVolume(ctx, local, src.ConfigMap, objs, access)
		case src.Secret != nil:
			err = writeSecretVolume(ctx, local, src.Secret, objs, access)
		case src.PersistentVolumeClaim != nil:
			local = w.r.ClaimDir(w.pod.Namespace, src.PersistentVolumeClaim.ClaimName)
			err = os.MkdirAll(local, dirMode)
		case src.HostPath != nil:
			local, err = hostPathVolume(src.HostPath)
		default:
			err = fmt.Errorf("the local pod runner does not support this kind of volume")
		}
		if err != nil {
			return nil, fmt.Errorf("MountVolume.SetUp failed for volume %q: %w", v.Name, err)
		}
		dirs[v.Name] = local
	}
	return dirs, nil
}

func writeConfigMapVolume(ctx context.Context, dir string, src *corev1.ConfigMapVolumeSource, objs *objects, access fileAccess) error {
	cm, err := objs.configMap(ctx, src.Name)
	if err != nil {
		return err
	}
	optional := src.Optional != nil && *src.Optional
	files := map[string][]byte{}
	if cm == nil && !optional {
		return configErrorf("configmap %q not found", src.Name)
	}
	if cm != nil {
		for k, v := range cm.Data {
			files[k] = []byte(v)
		}
		for k, v := range cm.BinaryData {
			files[k] = v
		}
	}
	return writeKeys(dir, files, src.Items, src.DefaultMode, corev1.ConfigMapVolumeSourceDefaultMode, optional, "configmap references non-existent config key", access)
}

func writeSecretVolume(ctx context.Context, dir string, src *corev1.SecretVolumeSource, objs *objects, access fileAccess) error {
	s, err := objs.secret(ctx, src.SecretName)
	if err != nil {
		return err
	}
	optional := src.Optional != nil && *src.Optional
	if s == nil && !optional {
		return configErrorf("secret %q not found", src.SecretName)
	}
	var files map[string][]byte
	if s != nil {
		files = s.Data
	}
	return writeKeys(dir, files, src.Items, src.DefaultMode, corev1.SecretVolumeSourceDefaultMode, optional, "secret references non-existent secret key", access)
}

// fileAccess is what the pod's user may do with the files of its ConfigMap and Secret
// volumes on a real node. There the kubelet writes them owned by root, with the pod's
// fsGroup as their group when it has one (adding group read, as for every read-only
// volume), and a non-root process reads them through the group or the "other" bits
// only. The runner's processes own their files, so the runner moves the bits that would
// apply to the pod's user into the owner's place: a Secret mounted 0400 for a pod that
// runs as 65532 without fsGroup is then unreadable here too, as on a node.
type fileAccess struct {
	// user is false when the pod does not say which user it runs as (the image's user):
	// the modes are then kept as they are.
	user bool
	// root: the pod runs as root, which reads everything.
	root bool
	// group: the process is in the files' group (fsGroup, or the root group).
	group bool
	// fsGroup adds group read to every file.
	fsGroup bool
}

// podFileAccess reads the pod's security context and its first container's (the
// runner gives a pod's files one owner, so the first container decides).
func podFileAccess(pod *corev1.Pod) fileAccess {
	var user, group *int64
	var a fileAccess
	if psc := pod.Spec.SecurityContext; psc != nil {
		user, group = psc.RunAsUser, psc.RunAsGroup
		a.fsGroup = psc.FSGroup != nil
	}
	if len(pod.Spec.Containers) > 0 {
		if sc := pod.Spec.Containers[0].SecurityContext; sc != nil {
			if sc.RunAsUser != nil {
				user = sc.RunAsUser
			}
			if sc.RunAsGroup != nil {
				group = sc.RunAsGroup
			}
		}
	}
	a.user = user != nil
	a.root = user != nil && *user == 0
	a.group = a.fsGroup || (group != nil && *group == 0)
	return a
}

// mode is the mode the runner gives a file the kubelet would write with mode m.
func (a fileAccess) mode(m fs.FileMode) fs.FileMode {
	m &= fs.ModePerm
	if a.fsGroup {
		m |= 0o440
	}
	if !a.user || a.root {
		return m
	}
	class := m & 0o7
	if a.group {
		class = m >> 3 & 0o7
	}
	return m&^0o700 | class<<6
}

// writeKeys writes the selected keys (all without items) as files with their modes, as
// the kubelet's ConfigMap and Secret volumes do. os.Root keeps item paths inside dir.
func writeKeys(dir string, data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32, fallbackMode int32, optional bool, missingKey string, access fileAccess) error {
	mode := fallbackMode
	if defaultMode != nil {
		mode = *defaultMode
	}
	type file struct {
		path string
		data []byte
		mode fs.FileMode
	}
	var files []file
	if len(items) == 0 {
		for k, v := range data {
			files = append(files, file{path: k, data: v, mode: fs.FileMode(mode)})
		}
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return configErrorf("%s: %s", missingKey, it.Key)
		}
		m := mode
		if it.Mode != nil {
			m = *it.Mode
		}
		files = append(files, file{path: it.Path, data: v, mode: fs.FileMode(m)})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })

	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clearing %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer root.Close()
	for _, f := range files {
		if d := path.Dir(f.path); d != "." {
			if err := root.MkdirAll(d, dirMode); err != nil {
				return fmt.Errorf("creating %s: %w", d, err)
			}
		}
		if err := root.WriteFile(f.path, f.data, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", f.path, err)
		}
		// Chmod after the write: the mode must not depend on the umask.
		if err := root.Chmod(f.path, access.mode(f.mode)); err != nil {
			return fmt.Errorf("setting the mode of %s: %w", f.path, err)
		}
	}
	return nil
}

// hostPathVolume is the host's own folder, checked or created as its type asks.
func hostPathVolume(src *corev1.HostPathVolumeSource) (string, error) {
	p := filepath.Clean(src.Path)
	var kind corev1.HostPathType
	if src.Type != nil {
		kind = *src.Type
	}
	switch kind {
	case corev1.HostPathDirectoryOrCreate:
		return p, os.MkdirAll(p, dirMode)
	case corev1.HostPathFileOrCreate:
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return "", fmt.Errorf("creating %s: %w", p, err)
		}
		return p, f.Close()
	case corev1.HostPathDirectory, corev1.HostPathFile:
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("hostPath: %w", err)
		}
	}
	return p, nil
}
