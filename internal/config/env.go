package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

var durationType = reflect.TypeOf(time.Duration(0))

// Keys lists every configuration key (dotted YAML path) with its
// environment variable, in a stable order. Used by docs and tests.
func Keys() []Key {
	var out []Key
	walk(reflect.ValueOf(Default()), "", func(path string, _ reflect.Value) {
		out = append(out, Key{Path: path, Env: envName(path)})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Key is one configuration key.
type Key struct {
	Path string // e.g. "room.max_participants"
	Env  string // e.g. "MINIRTC_ROOM_MAX_PARTICIPANTS"
}

func envName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// walk calls fn for every leaf field of the struct v, with its dotted path.
func walk(v reflect.Value, prefix string, fn func(path string, field reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if name == "" && t.Field(i).Anonymous && v.Field(i).Kind() == reflect.Struct {
			walk(v.Field(i), prefix, fn) // yaml ",inline": same level
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		f := v.Field(i)
		if f.Kind() == reflect.Struct && f.Type() != durationType {
			walk(f, path, fn)
			continue
		}
		fn(path, f)
	}
}

// applyEnv sets every field whose MINIRTC_* variable is present.
func applyEnv(cfg *Config, environ []string) error {
	env := make(map[string]string)
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}
	var err error
	walk(reflect.ValueOf(cfg).Elem(), "", func(path string, f reflect.Value) {
		raw, ok := env[envName(path)]
		if !ok || err != nil {
			return
		}
		if e := setFromString(f, raw); e != nil {
			err = fmt.Errorf("environment variable %s (config key %s): %w", envName(path), path, e)
		}
	})
	return err
}

// setFromString parses raw into a field of one of the kinds the config uses.
func setFromString(f reflect.Value, raw string) error {
	raw = strings.TrimSpace(raw)
	switch {
	case f.Type() == durationType:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("%q is not a duration like 30s or 5m", raw)
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.String:
		f.SetString(raw)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not true or false", raw)
		}
		f.SetBool(b)
	case f.Kind() == reflect.Int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return fmt.Errorf("%q is not an integer", raw)
		}
		f.SetInt(int64(n))
	case f.Kind() == reflect.Float64:
		n, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", raw)
		}
		f.SetFloat(n)
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
		var parts []string
		for _, p := range strings.Split(raw, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		f.Set(reflect.ValueOf(parts))
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
		// Lists of objects (webrtc.ice_servers) are JSON in the environment.
		v := reflect.New(f.Type())
		if err := json.Unmarshal([]byte(raw), v.Interface()); err != nil {
			return fmt.Errorf("%q is not a JSON array of objects: %v", raw, err)
		}
		f.Set(v.Elem())
	default:
		return fmt.Errorf("unsupported type %s", f.Type())
	}
	return nil
}
