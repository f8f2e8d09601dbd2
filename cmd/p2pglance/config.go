package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// configFlag names the agent's config file; P2PGLANCE_CONFIG names it too.
const configFlag = "config"

// secretKeys are the config keys whose values are secrets: a file holding
// one must not be readable by every user.
var secretKeys = map[string]bool{"cluster-secret": true, "cluster-secret-previous": true, "keystone-password": true, "notification-transport-url": true}

// repeatable are the flags a config file may set more than once.
var repeatable = map[string]bool{"label": true}

// configPath returns the config file the command line (--config FILE,
// --config=FILE) or else P2PGLANCE_CONFIG names, or "".
func configPath(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != configFlag {
			continue
		}
		if hasValue {
			return value
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return os.Getenv("P2PGLANCE_CONFIG")
}

// applyConfigFile sets fs's flags from the config file at path: one
// "key = value" a line, the key a flag's name (dashes or underscores),
// blank lines and lines starting with # or ; ignored, an optional
// [agent] section header, a value in double quotes unquoted as Go
// strings are. An unknown key, a key given twice (--label excepted) or a
// value the flag refuses is an error naming the line. The environment
// and the command line, applied after, override the file.
func applyConfigFile(fs *flag.FlagSet, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' || text[0] == ';' {
			continue
		}
		where := fmt.Sprintf("config %s line %d", path, line)
		if strings.HasPrefix(text, "[") {
			if text != "[agent]" {
				return fmt.Errorf("%s: unknown section %s (the only one is [agent])", where, text)
			}
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		if !ok {
			return fmt.Errorf("%s: want key = value", where)
		}
		key = strings.ReplaceAll(strings.TrimSpace(key), "_", "-")
		value = strings.TrimSpace(value)
		if strings.HasPrefix(value, `"`) {
			if value, err = strconv.Unquote(value); err != nil {
				return fmt.Errorf("%s: bad quoted value: %w", where, err)
			}
		}
		if key == configFlag || fs.Lookup(key) == nil {
			return fmt.Errorf("%s: unknown key %q", where, key)
		}
		if prev, dup := seen[key]; dup && !repeatable[key] {
			return fmt.Errorf("%s: %s is already set on line %d", where, key, prev)
		}
		seen[key] = line
		if secretKeys[key] && st.Mode().Perm()&0o004 != 0 {
			return fmt.Errorf("%s: %s is a secret, and %s is readable by every user (chmod o-r, or give the secret through the environment)", where, key, path)
		}
		if err := fs.Set(key, value); err != nil {
			return fmt.Errorf("%s: %s: %w", where, key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}
