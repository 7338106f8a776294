// Package observer is the observer pod of a LoadTest: it watches the pipeline
// under test while the workers replay into it, and reports what it saw in the
// pod's termination message.
//
// # The window
//
// The run lasts plan.Duration from the agreed start, and the observer keeps
// reading for plan.Drain after that, then reports. A stop request reports what
// was seen so far, marked Stopped. Every topic is read from the first offset
// dated StartSkew before the start (ListOffsets by timestamp, per partition),
// however late the pod began, so that a worker whose clock is a little behind
// the broker's still has its first records counted. Records of this run count
// whatever their date; other records count only when dated from the start on.
// Partitions added to a topic during the run are not read.
//
// Each partition has its own kafka-go Reader without a consumer group: the
// observer never commits offsets, so it cannot disturb the pipeline's group.
// The readers read committed records only (aborted transactions were never
// delivered).
//
// # Dead letters
//
// A dead letter is of this run when its run-id header (runheaders.RunID,
// which Kafka Connect and Spring Kafka copy from the failed record) is the
// plan's run id. OtherRecords counts dead letters in the window of no run or
// another run. With the plan's CountAllRecords (pipelines that drop headers),
// Records counts every dead letter in the window, and OtherRecords still says
// how many of those are not visibly of this run.
//
// A dead letter's class is, in order: the value of the plan's ClassifyHeader;
// Kafka Connect's exception class (__connect.errors.exception.class.name) with
// its stage (__connect.errors.stage) in brackets; Spring Kafka's
// kafka_dlt-exception-fqcn (or kafka_dlt-key-exception-fqcn, marked "(key)");
// else "unclassified". Each class keeps its first three examples: the original
// record's topic, partition and offset when the headers say (Connect writes
// them as decimal text in __connect.errors.topic, .partition and .offset;
// Spring as kafka_dlt-original-topic and 4- and 8-byte big-endian integers in
// kafka_dlt-original-partition and -offset), else the dead letter's own, and
// the exception message cut to 200 bytes. Past 256 classes, new classes count
// under "other". The report lists the largest classes first; when it does not
// fit in a termination message, results.Report.Encode drops examples and then
// the smallest classes, counting them in OmittedClasses and OmittedRecords.
//
// # Consumer lag
//
// Every LagInterval (2 s) the observer sums, over the input topic's
// partitions, the high watermark minus the pipeline group's committed offset.
// On a partition where the group has committed nothing yet, the lag counts
// from the run's start offset instead, that is every record of the window is
// still to be consumed. A last sample is taken at the end of the drain:
// Drained says whether it found no lag; Final is its value.
//
// # End-to-end latency and delivery
//
// The observer reads the output topic and matches this run's records by the
// run headers, which the pipeline must copy from its input records to its
// output records. Latency runs from the record's intended send time (header
// runheaders.Intended, written by the worker on the worker's clock) to the
// moment the observer's reader handed it over (observer's clock): the two
// nodes' clocks must be synchronised (NTP, typically within a few
// milliseconds), and latencies below the clock error mean little; negative
// ones count as 0. Delivered counts distinct records (worker and sequence),
// Duplicates the further copies, kept in a sparse bitmap per worker (64 Ki
// sequences per 8 KiB chunk); a record whose worker or sequence header is
// missing counts as delivered without a duplicate check. Compared with what
// the workers had acknowledged, Delivered shows what the pipeline has not
// delivered (results.Merge): records its consumer lag still counts at the end,
// or all of them when the observer was stopped before the drain ended, are in
// flight, not lost; loss is what is missing once it drained. When the
// pipeline drops the headers, nothing can be matched: Delivered stays 0, no
// latency is recorded, and the observer says so in its log and progress lines
// (outputRecordsWithoutRunHeaders).
//
// # Metrics
//
// streamreplay_observer_dlq_records_total{class} (the first 20 classes; the
// rest under "other"), _dlq_other_records_total, _output_records_total,
// _output_duplicates_total, _end_to_end_latency_seconds and
// _consumer_lag_records.
package observer
