package samples

import (
	"bytes"
	"errors"
	"fmt"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// auto reports whether f asks for the format to be detected: Auto, or unset.
func auto(f Format) bool {
	return f == streamreplayv1alpha1.SampleFormatAuto || f == ""
}

// detect decodes the first record of a file in both formats and returns the one that
// reads it. A record both read is read the same in both (key, topic, partition: the
// fields they share) or is refused as ambiguous; one neither reads is an error that
// says what each format found wrong.
func (p *parser) detect(line []byte, rec *Record) (Format, error) {
	trimmed := bytes.TrimLeft(line, " \t")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return "", errors.New("cannot detect the sample format: the first record is not a JSON object; " +
			"the samples must be JSON Lines or kcat -J output, plain or gzip")
	}
	asJSONLines, asKcat := Record{Partition: -1}, Record{Partition: -1}
	p.dec.reset(line)
	errJSONLines := p.jsonLine(&asJSONLines)
	p.dec.reset(line)
	errKcat := p.kcatLine(&asKcat)
	switch {
	case errJSONLines == nil && errKcat == nil:
		if !sameRecord(&asJSONLines, &asKcat) {
			return "", fmt.Errorf("cannot detect the sample format: the first record reads differently as JSON Lines and as kcat -J output: set sampleSet.format")
		}
		*rec = asJSONLines
		return streamreplayv1alpha1.SampleFormatJSONLines, nil
	case errJSONLines == nil:
		*rec = asJSONLines
		return streamreplayv1alpha1.SampleFormatJSONLines, nil
	case errKcat == nil:
		*rec = asKcat
		return streamreplayv1alpha1.SampleFormatKcat, nil
	default:
		return "", fmt.Errorf("cannot detect the sample format: the first record is neither JSON Lines (%w) nor kcat -J output (%w); fix it, or set sampleSet.format to see every bad line", errJSONLines, errKcat)
	}
}

func sameRecord(a, b *Record) bool {
	if !bytes.Equal(a.Key, b.Key) || (a.Key == nil) != (b.Key == nil) || !bytes.Equal(a.Value, b.Value) || (a.Value == nil) != (b.Value == nil) ||
		a.Topic != b.Topic || a.Partition != b.Partition || !a.Timestamp.Equal(b.Timestamp) || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !bytes.Equal(a.Headers[i].Value, b.Headers[i].Value) {
			return false
		}
	}
	return true
}
