package record

// Summary says what a recording read and wrote.
type Summary struct {
	Read       int // records read
	Written    int // records in the set
	Tombstones int // tombstones in the set
	// Keyless are records without a key left out of a snapshot.
	Keyless int
	// NonJSONDropped are records left out under nonJSON drop-record.
	NonJSONDropped int
	HeadersDropped int
	// Unmatched are rules that changed no record.
	Unmatched []string
}

// Process turns what was read into the set: merged in an order that keeps each partition's
// (so each key's) order, cut to count (0: all), reduced to the latest value of each key in
// snapshot mode, then redacted. Nothing leaves Process unredacted.
func Process(partitions [][]Record, count int, snapshot bool, red *Redactor) ([]Record, Summary, error) {
	recs := Merge(partitions)
	s := Summary{Read: len(recs)}
	if count > 0 && len(recs) > count {
		recs = recs[:count]
	}
	if snapshot {
		recs, s.Keyless = Snapshot(recs)
	}
	out := recs[:0]
	for i := range recs {
		keep, err := red.Apply(&recs[i])
		if err != nil {
			return nil, Summary{}, err
		}
		if keep {
			out = append(out, recs[i])
		}
	}
	for _, r := range out {
		if r.Value == nil {
			s.Tombstones++
		}
	}
	s.Written = len(out)
	s.NonJSONDropped = red.RecordsDropped
	s.HeadersDropped = red.HeadersDropped
	s.Unmatched = red.Unmatched()
	return out, s, nil
}
