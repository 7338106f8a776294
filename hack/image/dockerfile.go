package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// instruction is one Dockerfile instruction, its continuation lines joined.
type instruction struct {
	line int    // where it starts, for messages
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string // the rest of the line
}

// stage is one FROM ... of a Dockerfile with the instructions that follow it.
type stage struct {
	base         string
	name         string // the AS name; empty when none
	line         int
	instructions []instruction
}

// parseDockerfile splits a Dockerfile into its stages. It knows comments, continuation
// lines and instructions before the first FROM (ARG only), which is all a Dockerfile
// without heredocs has.
func parseDockerfile(r io.Reader) ([]stage, error) {
	var (
		stages  []stage
		pending strings.Builder
		start   int
	)
	flush := func() error {
		text := strings.TrimSpace(pending.String())
		pending.Reset()
		if text == "" {
			return nil
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			words := strings.Fields(in.args)
			s := stage{line: in.line}
			switch {
			case len(words) == 1:
				s.base = words[0]
			case len(words) == 3 && strings.EqualFold(words[1], "AS"):
				s.base, s.name = words[0], words[2]
			default:
				return fmt.Errorf("line %d: FROM %s: want FROM <image> [AS <name>]", in.line, in.args)
			}
			stages = append(stages, s)
			return nil
		}
		if len(stages) == 0 {
			if in.cmd == "ARG" {
				return nil
			}
			return fmt.Errorf("line %d: %s before the first FROM", in.line, in.cmd)
		}
		last := &stages[len(stages)-1]
		last.instructions = append(last.instructions, in)
		return nil
	}
	scanner := bufio.NewScanner(r)
	for n := 1; scanner.Scan(); n++ {
		line := scanner.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue // comments, also between continuation lines
		}
		if pending.Len() == 0 {
			if trimmed == "" {
				continue
			}
			start = n
		}
		if body, continued := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); continued {
			pending.WriteString(body + " ")
			continue
		}
		pending.WriteString(line)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return stages, nil
}

// goBuild is the `go build` of a builder stage: what to run and what it writes.
type goBuild struct {
	line   int
	env    []string // NAME=value assignments before the command, expanded
	args   []string // after "go build", expanded, with -o's value as written
	output string   // the absolute path -o names inside the builder stage
}

// copyFrom is a final-stage COPY --from=<builder> of the builder's output.
type copyFrom struct {
	line      int
	from, src string
	dst       string
	chown     string
}

// finalStage is what the final stage of the Dockerfile asks for, in the terms the image
// builder can reproduce.
type finalStage struct {
	base       string
	workdir    string
	user       string
	entrypoint []string
	cmd        []string
	env        []string
	copies     []copyFrom
}

// recipe is a Dockerfile reduced to what the image builder reproduces: the builder
// stage's go build and the final stage.
type recipe struct {
	builderBase string
	build       goBuild
	final       finalStage
}

// readRecipe parses a Dockerfile and reduces it to a recipe, failing on anything the image
// builder cannot reproduce exactly: then the Dockerfile and hack/image must change together.
func readRecipe(file string, args map[string]string) (*recipe, error) {
	f, err := os.Open(file) //nolint:gosec // the repository's own Dockerfile
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	stages, err := parseDockerfile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(stages) != 2 {
		return nil, fmt.Errorf("%s: %d stages, want 2 (a Go builder and the final image)", file, len(stages))
	}
	rec := &recipe{builderBase: stages[0].base}
	builds, err := readBuilder(stages[0], args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(builds) != 1 {
		return nil, fmt.Errorf("%s: the builder stage has %d go build commands, want 1", file, len(builds))
	}
	rec.build = builds[0]
	if rec.final, err = readFinal(stages[1]); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for _, c := range rec.final.copies {
		if c.from != stages[0].name && c.from != "0" {
			return nil, fmt.Errorf("%s: line %d: COPY --from=%s: only the builder stage %q can be copied from", file, c.line, c.from, stages[0].name)
		}
		if c.src != rec.build.output {
			return nil, fmt.Errorf("%s: line %d: COPY --from=%s %s: the builder's go build writes %s; nothing else is reproduced",
				file, c.line, c.from, c.src, rec.build.output)
		}
	}
	return rec, nil
}

// readBuilder finds the go build commands of a builder stage. Its COPY lines bring the
// repository's sources, which the image builder builds in place; `go mod download` only
// warms a cache. Any other RUN could change the binary, so it is refused.
func readBuilder(s stage, args map[string]string) ([]goBuild, error) {
	vars := map[string]string{}
	workdir := "/"
	var builds []goBuild
	for _, in := range s.instructions {
		switch in.cmd {
		case "ARG":
			name, def, hasDefault := strings.Cut(in.args, "=")
			if v, ok := args[name]; ok {
				vars[name] = v
			} else if hasDefault {
				vars[name] = def
			} else {
				vars[name] = ""
			}
		case "WORKDIR":
			workdir = path.Join(workdir, in.args)
		case "COPY", "ENV":
		case "RUN":
			words, err := shellWords(in.args, vars)
			if err != nil {
				return nil, fmt.Errorf("line %d: RUN %s: %w", in.line, in.args, err)
			}
			var env []string
			for len(words) > 0 && isAssignment(words[0]) {
				env, words = append(env, words[0]), words[1:]
			}
			switch {
			case len(env) == 0 && strings.Join(words, " ") == "go mod download":
			case len(words) >= 2 && words[0] == "go" && words[1] == "build":
				b := goBuild{line: in.line, env: env, args: words[2:]}
				for i, w := range b.args {
					if w == "-o" && i+1 < len(b.args) {
						b.output = path.Join(workdir, b.args[i+1])
					}
				}
				if b.output == "" {
					return nil, fmt.Errorf("line %d: go build without -o", in.line)
				}
				builds = append(builds, b)
			default:
				return nil, fmt.Errorf("line %d: RUN %s: hack/image reproduces only `go mod download` and `go build` in the builder stage", in.line, in.args)
			}
		default:
			return nil, fmt.Errorf("line %d: %s in the builder stage is not reproduced by hack/image", in.line, in.cmd)
		}
	}
	return builds, nil
}

// readFinal reads the final stage. It has no shell, so RUN cannot appear in it.
func readFinal(s stage) (finalStage, error) {
	f := finalStage{base: s.base}
	for _, in := range s.instructions {
		switch in.cmd {
		case "WORKDIR":
			f.workdir = path.Join("/", f.workdir, in.args)
		case "USER":
			f.user = in.args
		case "ENTRYPOINT", "CMD":
			var list []string
			if err := json.Unmarshal([]byte(in.args), &list); err != nil {
				return f, fmt.Errorf("line %d: %s %s: only the JSON (exec) form is reproduced: %w", in.line, in.cmd, in.args, err)
			}
			if in.cmd == "ENTRYPOINT" {
				f.entrypoint = list
			} else {
				f.cmd = list
			}
		case "ENV":
			name, value, ok := strings.Cut(in.args, "=")
			if !ok || strings.ContainsAny(name, " \t") {
				return f, fmt.Errorf("line %d: ENV %s: only ENV NAME=value is reproduced", in.line, in.args)
			}
			f.env = append(f.env, name+"="+strings.Trim(value, `"`))
		case "COPY":
			c := copyFrom{line: in.line}
			words := strings.Fields(in.args)
			for len(words) > 0 && strings.HasPrefix(words[0], "--") {
				flag, value, _ := strings.Cut(words[0], "=")
				switch flag {
				case "--from":
					c.from = value
				case "--chown":
					c.chown = value
				default:
					return f, fmt.Errorf("line %d: COPY %s is not reproduced by hack/image", in.line, flag)
				}
				words = words[1:]
			}
			if c.from == "" || len(words) != 2 {
				return f, fmt.Errorf("line %d: COPY %s: hack/image reproduces only COPY --from=<builder> <file> <path>", in.line, in.args)
			}
			c.src, c.dst = words[0], words[1]
			f.copies = append(f.copies, c)
		default:
			return f, fmt.Errorf("line %d: %s in the final stage is not reproduced by hack/image", in.line, in.cmd)
		}
	}
	if len(f.entrypoint) == 0 {
		return f, fmt.Errorf("line %d: the final stage has no ENTRYPOINT", s.line)
	}
	return f, nil
}

func isAssignment(word string) bool {
	name, _, ok := strings.Cut(word, "=")
	if !ok || name == "" {
		return false
	}
	for i, r := range name {
		if r != '_' && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// shellWords splits a RUN line the way sh would for the simple commands a builder stage
// has: blanks separate words, quotes group them, $NAME and ${NAME} expand from vars.
// Anything that needs a real shell (pipes, &&, ;, redirections, globs, $(...)) is refused.
func shellWords(line string, vars map[string]string) ([]string, error) {
	var (
		words   []string
		word    strings.Builder
		inWord  bool
		quote   rune
		runes   = []rune(line)
		expand  func(i int) (int, error)
		special = "|&;<>()`*?["
	)
	expand = func(i int) (int, error) { // at runes[i] == '$'; returns the index after the name
		j := i + 1
		braced := j < len(runes) && runes[j] == '{'
		if braced {
			j++
		}
		k := j
		for k < len(runes) && (runes[k] == '_' || runes[k] >= 'A' && runes[k] <= 'Z' || runes[k] >= 'a' && runes[k] <= 'z' || runes[k] >= '0' && runes[k] <= '9') {
			k++
		}
		if k == j {
			return 0, fmt.Errorf("a $ not followed by a name")
		}
		name := string(runes[j:k])
		if braced {
			if k >= len(runes) || runes[k] != '}' {
				return 0, fmt.Errorf("${%s without }, or with an operator", name)
			}
			k++
		}
		v, ok := vars[name]
		if !ok {
			return 0, fmt.Errorf("$%s is not an ARG of the stage", name)
		}
		word.WriteString(v)
		inWord = true
		return k, nil
	}
	for i := 0; i < len(runes); {
		r := runes[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				word.WriteRune(r)
			}
			i++
		case quote == '"':
			switch r {
			case '"':
				quote = 0
				i++
			case '$':
				next, err := expand(i)
				if err != nil {
					return nil, err
				}
				i = next
			case '\\':
				if i+1 < len(runes) && strings.ContainsRune(`"\$`+"`", runes[i+1]) {
					i++
				}
				word.WriteRune(runes[i])
				i++
			default:
				word.WriteRune(r)
				i++
			}
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
			i++
		case r == '\'' || r == '"':
			quote, inWord = r, true
			i++
		case r == '\\' && i+1 < len(runes):
			word.WriteRune(runes[i+1])
			inWord = true
			i += 2
		case r == '$':
			next, err := expand(i)
			if err != nil {
				return nil, err
			}
			i = next
		case strings.ContainsRune(special, r):
			return nil, fmt.Errorf("%q needs a shell, which hack/image does not run", r)
		default:
			word.WriteRune(r)
			inWord = true
			i++
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}
