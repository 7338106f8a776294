package record

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// MaxConfigMapBytes is what one ConfigMap holds: the API server refuses data and
// binaryData (keys included) over 1 MiB.
const MaxConfigMapBytes = 1 << 20

// DefaultConfigMapKey is the key of the sample set in a ConfigMap the recorder writes.
const DefaultConfigMapKey = "samples.kcat.json.gz"

// AppendKcat appends rec as one line of `kcat -C -J` output: topic, partition, offset,
// ts (epoch milliseconds), headers as [name, value, ...], key and payload, with null for
// a missing key or a tombstone. Unknown partition, offset and timestamp are left out, and
// so are tstype and broker, which kafka-go does not give.
// Key, payload and header values are written byte for byte, as kcat does (binary
// included); internal/samples reads them back as they were.
func AppendKcat(dst []byte, rec *Record) []byte {
	dst = append(dst, `{"topic":`...)
	dst = appendBytesString(dst, []byte(rec.Topic))
	if rec.Partition >= 0 {
		dst = append(dst, `,"partition":`...)
		dst = strconv.AppendInt(dst, int64(rec.Partition), 10)
	}
	if rec.Offset >= 0 {
		dst = append(dst, `,"offset":`...)
		dst = strconv.AppendInt(dst, rec.Offset, 10)
	}
	if !rec.Timestamp.IsZero() {
		dst = append(dst, `,"ts":`...)
		dst = strconv.AppendInt(dst, rec.Timestamp.UnixMilli(), 10)
	}
	if len(rec.Headers) > 0 {
		dst = append(dst, `,"headers":[`...)
		for i, h := range rec.Headers {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendBytesString(dst, []byte(h.Key))
			dst = append(dst, ',')
			dst = appendNullable(dst, h.Value)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"key":`...)
	dst = appendNullable(dst, rec.Key)
	dst = append(dst, `,"payload":`...)
	dst = appendNullable(dst, rec.Value)
	return append(dst, "}\n"...)
}

func appendNullable(dst, b []byte) []byte {
	if b == nil {
		return append(dst, "null"...)
	}
	return appendBytesString(dst, b)
}

// appendBytesString writes b as a JSON string: quotes, backslashes and control characters
// escaped, every other byte as it is.
func appendBytesString(dst, b []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// Gzip encodes the records as gzipped kcat -J lines.
func Gzip(records []Record) ([]byte, error) {
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	var line []byte
	for i := range records {
		line = AppendKcat(line[:0], &records[i])
		if _, err := zw.Write(line); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// TooBigError is a set over what a ConfigMap holds.
type TooBigError struct{ Bytes int }

func (e *TooBigError) Error() string {
	return fmt.Sprintf("the gzipped set is %d bytes, over the 1 MiB (%d bytes) a ConfigMap holds: write a file (-o FILE) "+
		"and serve it by URL (spec.sampleSet.url, or urlSecretRef for a signed URL) or put it on a volume "+
		"(spec.sampleSet.persistentVolumeClaim); or record fewer records (--count, --since/--until, --snapshot); see docs/plugin.md#record",
		e.Bytes, MaxConfigMapBytes)
}

// WriteConfigMap writes a ConfigMap manifest holding the gzipped set under key, refusing a
// set that the API server would refuse.
func WriteConfigMap(w io.Writer, name, namespace, key string, gz []byte) error {
	if len(gz)+len(key) > MaxConfigMapBytes {
		return &TooBigError{Bytes: len(gz)}
	}
	cm := corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"app.kubernetes.io/created-by": "kubectl-streamreplay-record"}},
		BinaryData: map[string][]byte{key: gz},
	}
	out, err := yaml.Marshal(&cm)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}
