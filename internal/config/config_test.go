package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "minirtc.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsAreValid(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP != ":7880" || cfg.RTMP != ":1935" || cfg.Data != "./data" {
		t.Fatalf("defaults = %+v", cfg)
	}
}

func TestYAMLThenEnv(t *testing.T) {
	p := writeFile(t, `
http: ":9000"
host: rtc.example.com
room:
  max_participants: 16
  empty_grace: 2m
signal:
  ping_interval: 4s
  allowed_origins: ["https://a.example"]
`)
	cfg, err := Load(p, []string{
		"MINIRTC_HTTP=:9100",
		"MINIRTC_ROOM_MAX_ROOMS_PER_APP=7",
		"MINIRTC_SIGNAL_ALLOWED_ORIGINS=https://b.example, https://c.example",
		"MINIRTC_DEBUG_ENDPOINTS=true",
		"OTHER=ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP != ":9100" {
		t.Errorf("env did not override the file: %s", cfg.HTTP)
	}
	if cfg.Host != "rtc.example.com" || cfg.Room.MaxParticipants != 16 || cfg.Room.EmptyGrace != 2*time.Minute {
		t.Errorf("file values lost: %+v", cfg)
	}
	if cfg.Room.MaxRoomsPerApp != 7 || !cfg.Debug.Endpoints {
		t.Errorf("env values lost: %+v", cfg)
	}
	if got := strings.Join(cfg.Signal.AllowedOrigins, " "); got != "https://b.example https://c.example" {
		t.Errorf("origins = %s", got)
	}
	if cfg.Signal.PingInterval != 4*time.Second {
		t.Errorf("ping = %s", cfg.Signal.PingInterval)
	}
	if cfg.Room.MaxAttributes != 64 {
		t.Errorf("unset nested key lost its default: %d", cfg.Room.MaxAttributes)
	}
}

func TestUnknownKeyIsAnError(t *testing.T) {
	p := writeFile(t, "room:\n  max_participant: 3\n")
	_, err := Load(p, nil)
	if err == nil || !strings.Contains(err.Error(), "max_participant") {
		t.Fatalf("err = %v", err)
	}
}

func TestBadEnvValueNamesTheVariable(t *testing.T) {
	_, err := Load("", []string{"MINIRTC_SIGNAL_PING_INTERVAL=often"})
	if err == nil || !strings.Contains(err.Error(), "MINIRTC_SIGNAL_PING_INTERVAL") {
		t.Fatalf("err = %v", err)
	}
	_, err = Load("", []string{"MINIRTC_ROOM_MAX_PARTICIPANTS=lots"})
	if err == nil || !strings.Contains(err.Error(), "integer") {
		t.Fatalf("err = %v", err)
	}
}

func TestValidateRejectsNonsense(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"ping too fast": func(c *Config) { c.Signal.PingInterval = time.Second },
		"ping too slow": func(c *Config) { c.Signal.PingInterval = time.Minute },
		"log level":     func(c *Config) { c.Log.Level = "loud" },
		"negative":      func(c *Config) { c.Room.MaxParticipants = -1 },
		"empty data":    func(c *Config) { c.Data = "" },
		"timeout":       func(c *Config) { c.Signal.SessionTimeout = time.Second },
	} {
		c := Default()
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestKeysHaveDistinctEnvNames(t *testing.T) {
	seen := map[string]string{}
	for _, k := range Keys() {
		if other, ok := seen[k.Env]; ok {
			t.Fatalf("%s and %s share %s", k.Path, other, k.Env)
		}
		seen[k.Env] = k.Path
	}
	if _, ok := seen["MINIRTC_ROOM_MAX_PARTICIPANTS"]; !ok {
		t.Fatal("room.max_participants missing")
	}
}
