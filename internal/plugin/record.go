package plugin

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/kafkaconn"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/record"
)

// setFlags are the flags record and import-console-consumer share: redaction, the
// snapshot and count, and where the set goes.
type setFlags struct {
	rulesFile   string
	drop        []string
	mask        []string
	hash        []string
	dropHeaders []string
	nonJSON     string
	saltFile    string
	count       int
	snapshot    bool
	output      string
	configMap   string
	cmKey       string
	// allowUnmatched writes the set even when a rule changed no record.
	allowUnmatched bool
}

func (f *setFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.rulesFile, "rules", "", "redaction rules file (YAML: key, value, dropHeaders, nonJSON; see docs/plugin.md)")
	fl.StringArrayVar(&f.drop, "drop", nil, "drop a field: key:PATH or value:PATH, such as value:$.after.notes (repeatable)")
	fl.StringArrayVar(&f.mask, "mask", nil, `replace a field with "****": key:PATH or value:PATH (repeatable)`)
	fl.StringArrayVar(&f.hash, "hash", nil, "replace a field with its HMAC-SHA256 under the salt: key:PATH or value:PATH; key:$ hashes the whole key (repeatable)")
	fl.StringArrayVar(&f.dropHeaders, "drop-header", nil, "drop the header of this name, compared without case (repeatable)")
	fl.StringVar(&f.nonJSON, "non-json", "", "when a rule needs JSON and the key or value is not: fail (default) or drop-record")
	fl.StringVar(&f.saltFile, "salt-file", "", "file holding the hashing salt (at least 16 bytes); or set $"+record.SaltEnv+". Never given as a flag value")
	fl.IntVar(&f.count, "count", 0, "record at most this many records in all, the earliest by timestamp, each partition's first ones (0: no limit)")
	fl.BoolVar(&f.snapshot, "snapshot", false, "record the latest value of each key, as a compacted topic holds the current state (tombstones remove keys)")
	fl.StringVarP(&f.output, "output", "o", "", "file to write the gzipped kcat -J set to (- for standard output); with --configmap, the manifest's file")
	fl.StringVar(&f.configMap, "configmap", "", "write a ConfigMap manifest of this name holding the set (binaryData), refused over 1 MiB")
	fl.StringVar(&f.cmKey, "configmap-key", record.DefaultConfigMapKey, "the ConfigMap key holding the set")
	fl.BoolVar(&f.allowUnmatched, "allow-unmatched-rules", false, "write the set even when a redaction rule changed no record (by default that is an error: most likely a wrong path)")
}

// redactor builds the redaction rules from the file and the flags, and the salt from its
// file or the environment.
func (f *setFlags) redactor() (*record.Redactor, error) {
	var rules record.Rules
	if f.rulesFile != "" {
		data, err := os.ReadFile(f.rulesFile)
		if err != nil {
			return nil, fmt.Errorf("reading the redaction rules: %w", err)
		}
		if rules, err = record.ReadRules(data, f.rulesFile); err != nil {
			return nil, err
		}
	}
	for _, flag := range []struct {
		action record.Action
		args   []string
	}{{record.ActionDrop, f.drop}, {record.ActionMask, f.mask}, {record.ActionHash, f.hash}} {
		for _, a := range flag.args {
			if err := rules.AddFlag(flag.action, a); err != nil {
				return nil, err
			}
		}
	}
	rules.DropHeaders = append(rules.DropHeaders, f.dropHeaders...)
	if f.nonJSON != "" {
		rules.NonJSON = record.NonJSON(f.nonJSON)
	}
	salt, err := f.salt()
	if err != nil {
		return nil, err
	}
	return record.NewRedactor(rules, salt)
}

func (f *setFlags) salt() ([]byte, error) {
	if f.saltFile != "" {
		b, err := os.ReadFile(f.saltFile)
		if err != nil {
			return nil, fmt.Errorf("reading the salt file: %w", err)
		}
		return bytes.TrimRight(b, "\r\n"), nil
	}
	return []byte(os.Getenv(record.SaltEnv)), nil
}

func (f *setFlags) check() error {
	switch {
	case f.output == "" && f.configMap == "":
		return errors.New("say where the set goes: -o FILE (gzipped kcat -J) or --configmap NAME (a manifest)")
	case f.count < 0:
		return fmt.Errorf("--count %d is negative", f.count)
	case f.snapshot && f.count > 0:
		return errors.New("--snapshot and --count are exclusive: the current state needs every record from the start")
	}
	return nil
}

// write gzips the set and writes it as a file or a ConfigMap manifest, then the summary.
func (f *setFlags) write(cmd *cobra.Command, namespace string, recs []record.Record, s record.Summary) error {
	if len(s.Unmatched) > 0 && !f.allowUnmatched {
		// A typo in a path changes nothing, and the field it meant is written as it was.
		return fmt.Errorf("nothing written: %s changed no record: check the path (a misspelt one leaves the field it meant unredacted), or pass --allow-unmatched-rules if these records do not have that field",
			strings.Join(s.Unmatched, "; "))
	}
	gz, err := record.Gzip(recs)
	if err != nil {
		return fmt.Errorf("compressing the set: %w", err)
	}
	var out bytes.Buffer
	if f.configMap != "" {
		if err := record.WriteConfigMap(&out, f.configMap, namespace, f.cmKey, gz); err != nil {
			return err
		}
	} else {
		out.Write(gz)
	}
	dest := f.output
	if dest == "" || dest == "-" {
		dest = "standard output"
		if _, err := cmd.OutOrStdout().Write(out.Bytes()); err != nil {
			return err
		}
	} else if err := os.WriteFile(f.output, out.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing the set: %w", err)
	}
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "%d records read, %d written (%d tombstones), %d bytes gzipped, to %s\n", s.Read, s.Written, s.Tombstones, len(gz), dest)
	if s.Keyless > 0 {
		fmt.Fprintf(w, "%d records without a key left out of the snapshot: a compacted topic cannot hold them\n", s.Keyless)
	}
	if s.NonJSONDropped > 0 {
		fmt.Fprintf(w, "%d records left out: a rule needs JSON and they are not (nonJSON drop-record)\n", s.NonJSONDropped)
	}
	if s.HeadersDropped > 0 {
		fmt.Fprintf(w, "%d headers dropped\n", s.HeadersDropped)
	}
	for _, r := range s.Unmatched {
		fmt.Fprintf(w, "warning: %s changed no record (--allow-unmatched-rules)\n", r)
	}
	if f.configMap != "" {
		fmt.Fprintf(w, "replay it with spec.sampleSet: {configMapRef: {name: %s, key: %s}, format: Kcat}; apply with kubectl apply --server-side (the set is too big for the last-applied annotation)\n", f.configMap, f.cmKey)
	} else {
		fmt.Fprintf(w, "replay it with spec.sampleSet.format: Kcat\n")
	}
	return nil
}

func (o *options) namespaceForManifest() string {
	if o.flags.Namespace != nil {
		return *o.flags.Namespace
	}
	return ""
}

func (o *options) recordCommand() *cobra.Command {
	var (
		sf                      setFlags
		brokers                 []string
		clientID                string
		tlsOn                   bool
		tlsCA, tlsCert, tlsKey  string
		tlsServer               string
		saslMech, saslUser      string
		saslUserFile, saslPass  string
		since, until, offsetArg string
		idle                    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "record TOPIC (-o FILE | --configmap NAME)",
		Short: "Record a topic's records into a sample set (kcat -J, gzipped), redacted before anything is written",
		Example: `  kubectl streamreplay record dbserver1.dbo.customers --bootstrap-servers kafka:9092 \
    --since 2026-11-30T08:00:00Z --until 2026-11-30T09:00:00Z \
    --rules redaction.yaml --salt-file salt.txt --configmap crm-cdc-recorded -o crm-cdc-recorded.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := sf.check(); err != nil {
				return err
			}
			if len(brokers) == 0 {
				return errors.New("--bootstrap-servers is required")
			}
			bounds, err := parseBounds(since, until, offsetArg)
			if err != nil {
				return err
			}
			if sf.snapshot && (!bounds.Since.IsZero() || bounds.Offsets != nil) {
				return errors.New("--snapshot reads every record from the start (up to --until if given): --since and --offsets do not apply")
			}
			bounds.Count = sf.count
			red, err := sf.redactor()
			if err != nil {
				return err
			}
			k := plan.Kafka{BootstrapServers: brokers, ClientID: clientID}
			if tlsOn || tlsCA != "" || tlsCert != "" || tlsKey != "" || tlsServer != "" {
				k.TLS = &plan.TLS{CAFile: tlsCA, CertFile: tlsCert, KeyFile: tlsKey, ServerName: tlsServer}
			}
			if saslMech != "" {
				// The flag's text, as the API spells it; kafkaconn refuses an unknown one, before connecting.
				k.SASL = &plan.SASL{Mechanism: streamreplayv1alpha1.SASLMechanism(saslMech), Username: saslUser, UsernameFile: saslUserFile, PasswordFile: saslPass}
				if _, err := kafkaconn.SASLMechanism(k.SASL); err != nil {
					return err
				}
			} else if saslUser != "" || saslUserFile != "" || saslPass != "" {
				return errors.New("--sasl-username and --sasl-password-file need --sasl-mechanism")
			}
			progress := func(p int32, n int) { fmt.Fprintf(cmd.ErrOrStderr(), "partition %d: %d records read\n", p, n) }
			parts, err := record.Read(cmd.Context(), record.ReadOptions{Kafka: k, Topic: args[0], Bounds: bounds, IdleTimeout: idle, Progress: progress})
			if err != nil {
				return err
			}
			recs, summary, err := record.Process(parts, sf.count, sf.snapshot, red)
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				return fmt.Errorf("no record of topic %q within the bounds: nothing to write (a LoadTest refuses an empty set)", args[0])
			}
			return sf.write(cmd, o.namespaceForManifest(), recs, summary)
		},
	}
	sf.add(cmd)
	fl := cmd.Flags()
	fl.StringSliceVar(&brokers, "bootstrap-servers", nil, "Kafka bootstrap servers, comma separated")
	fl.StringVar(&clientID, "client-id", "streamreplay-record", "Kafka client id")
	fl.BoolVar(&tlsOn, "tls", false, "connect with TLS (implied by the other --tls- flags)")
	fl.StringVar(&tlsCA, "tls-ca-file", "", "CA certificate file (PEM) of the brokers; default the system roots")
	fl.StringVar(&tlsCert, "tls-cert-file", "", "client certificate file (PEM)")
	fl.StringVar(&tlsKey, "tls-key-file", "", "client key file (PEM)")
	fl.StringVar(&tlsServer, "tls-server-name", "", "server name to verify the brokers' certificates against")
	fl.StringVar(&saslMech, "sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	fl.StringVar(&saslUser, "sasl-username", "", "SASL username")
	fl.StringVar(&saslUserFile, "sasl-username-file", "", "file holding the SASL username")
	fl.StringVar(&saslPass, "sasl-password-file", "", "file holding the SASL password (a password is never a flag value)")
	fl.StringVar(&since, "since", "", "record from the first record at or after this time (RFC 3339) in each partition")
	fl.StringVar(&until, "until", "", "record up to the last record before this time (RFC 3339)")
	fl.StringVar(&offsetArg, "offsets", "", "record only these partitions and offsets, both ends included: 0:100-199,2:0-49")
	fl.DurationVar(&idle, "idle-timeout", 30*time.Second, "give up on a partition that sends nothing for this long before its end")
	return cmd
}

func parseBounds(since, until, offsets string) (record.Bounds, error) {
	var b record.Bounds
	var err error
	if since != "" {
		if b.Since, err = time.Parse(time.RFC3339Nano, since); err != nil {
			return b, fmt.Errorf("--since %q: not an RFC 3339 time such as 2026-11-30T08:00:00Z", since)
		}
	}
	if until != "" {
		if b.Until, err = time.Parse(time.RFC3339Nano, until); err != nil {
			return b, fmt.Errorf("--until %q: not an RFC 3339 time such as 2026-11-30T09:00:00Z", until)
		}
	}
	if !b.Since.IsZero() && !b.Until.IsZero() && !b.Since.Before(b.Until) {
		return b, fmt.Errorf("--since %s is not before --until %s", since, until)
	}
	if offsets == "" {
		return b, nil
	}
	b.Offsets = map[int32]record.OffsetRange{}
	for _, item := range strings.Split(offsets, ",") {
		p, r, ok := strings.Cut(item, ":")
		from, to, ok2 := strings.Cut(r, "-")
		pn, err1 := strconv.ParseInt(p, 10, 32)
		fn, err2 := strconv.ParseInt(from, 10, 64)
		tn, err3 := strconv.ParseInt(to, 10, 64)
		switch {
		case !ok || !ok2 || err1 != nil || err2 != nil || err3 != nil || pn < 0 || fn < 0:
			return b, fmt.Errorf("--offsets %q: want PARTITION:FROM-TO, such as 0:100-199", item)
		case tn < fn:
			return b, fmt.Errorf("--offsets %q: %d is before %d", item, tn, fn)
		}
		if _, dup := b.Offsets[int32(pn)]; dup {
			return b, fmt.Errorf("--offsets names partition %d twice", pn)
		}
		b.Offsets[int32(pn)] = record.OffsetRange{From: fn, To: tn}
	}
	return b, nil
}

func (o *options) importCommand() *cobra.Command {
	var (
		sf       setFlags
		format   = record.DefaultConsoleFormat()
		keySep   string
		hdrSep   string
		hdrKVSep string
	)
	cmd := &cobra.Command{
		Use:   "import-console-consumer FILE (-o FILE | --configmap NAME)",
		Short: "Turn kafka-console-consumer output (print.key, print.timestamp, print.headers) into a sample set, redacted like record",
		Example: `  kafka-console-consumer --bootstrap-server kafka:9092 --topic orders --from-beginning --max-messages 5000 \
    --property print.key=true --property print.timestamp=true --property print.headers=true > orders.txt
  kubectl streamreplay import-console-consumer orders.txt --topic orders --hash key:$ --salt-file salt.txt -o orders.kcat.json.gz`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := sf.check(); err != nil {
				return err
			}
			var err error
			for _, s := range []struct {
				flag string
				in   string
				out  *string
			}{{"key-separator", keySep, &format.KeySeparator}, {"headers-separator", hdrSep, &format.HeadersSeparator}, {"headers-key-separator", hdrKVSep, &format.HeadersKeySeparator}} {
				if *s.out, err = unescape(s.in); err != nil {
					return fmt.Errorf("--%s %q: %w", s.flag, s.in, err)
				}
			}
			red, err := sf.redactor()
			if err != nil {
				return err
			}
			in := cmd.InOrStdin()
			name := "standard input"
			if args[0] != "-" {
				file, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer func() { _ = file.Close() }()
				in, name = file, args[0]
			}
			recs, err := record.ImportConsole(in, format)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			set, summary, err := record.Process([][]record.Record{recs}, sf.count, sf.snapshot, red)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if len(set) == 0 {
				return fmt.Errorf("%s: no record left to write", name)
			}
			return sf.write(cmd, o.namespaceForManifest(), set, summary)
		},
	}
	sf.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&format.Topic, "topic", "", "the topic the records came from, written in the set (the replay writes to the LoadTest's target topic)")
	fl.BoolVar(&format.Timestamp, "print-timestamp", true, "the input has the timestamp column (print.timestamp=true)")
	fl.BoolVar(&format.Partition, "print-partition", false, "the input has the partition column (print.partition=true)")
	fl.BoolVar(&format.Offset, "print-offset", false, "the input has the offset column (print.offset=true)")
	fl.BoolVar(&format.Headers, "print-headers", true, "the input has the headers column (print.headers=true)")
	fl.BoolVar(&format.Key, "print-key", true, "the input has the key column (print.key=true)")
	fl.StringVar(&keySep, "key-separator", `\t`, "the tool's key.separator, which ends every column")
	fl.StringVar(&hdrSep, "headers-separator", ",", "the tool's headers.separator")
	fl.StringVar(&hdrKVSep, "headers-key-separator", ":", "the tool's headers.key.separator")
	fl.StringVar(&format.NullLiteral, "null-literal", "null", "the tool's null.literal, printed for a null key, value or header")
	return cmd
}

// unescape reads \t, \n and the other Go escapes in a separator given on the command line.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	u, err := strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
	if err != nil {
		return "", errors.New("not a valid escape sequence")
	}
	return u, nil
}
