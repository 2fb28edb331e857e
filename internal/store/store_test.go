package store

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNewAppID(t *testing.T) {
	re := regexp.MustCompile(`^app[0-9a-v]{16}$`)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewAppID()
		if !re.MatchString(string(id)) {
			t.Fatalf("NewAppID() = %q, want app + 16 lowercase base32hex characters", id)
		}
		if err := id.Validate(); err != nil {
			t.Fatal(err)
		}
		if seen[string(id)] {
			t.Fatalf("NewAppID repeated %q", id)
		}
		seen[string(id)] = true
	}
}

func TestNewSecret(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	a, b := NewSecret(), NewSecret()
	if !re.MatchString(a) || a == b {
		t.Fatalf("NewSecret() = %q, %q", a, b)
	}
}

func TestValidateAppName(t *testing.T) {
	ok := []string{"a", "My App", "直播间", strings.Repeat("é", MaxAppNameLen)}
	bad := []string{"", "a\x00", "line\nbreak", "\u0085", "\xff", strings.Repeat("a", MaxAppNameLen+1)}
	for _, n := range ok {
		if err := ValidateAppName(n); err != nil {
			t.Errorf("ValidateAppName(%q) = %v", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidateAppName(n); err == nil {
			t.Errorf("ValidateAppName(%q) = nil, want an error", n)
		}
	}
	if err := ValidateAppName(""); !strings.Contains(err.Error(), "1 to 128") {
		t.Errorf("empty-name error %q does not say what is allowed", err)
	}
}

func TestEffectiveLimit(t *testing.T) {
	for in, want := range map[int]int{-1: 100, 0: 100, 1: 1, 999: 999, 1000: 1000, 1001: 1000} {
		if got := (ReportQuery{Limit: in}).EffectiveLimit(); got != want {
			t.Errorf("EffectiveLimit(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestActiveAndPreviousSecretValid(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if !(Ban{}).Active(now) || !(Ban{Until: now.Add(1)}).Active(now) || (Ban{Until: now}).Active(now) {
		t.Fatal("Ban.Active wrong")
	}
	a := App{PreviousSecret: "x", PreviousSecretUntil: now.Add(time.Second)}
	if !a.PreviousSecretValid(now) || a.PreviousSecretValid(now.Add(time.Second)) || (App{PreviousSecretUntil: now.Add(time.Hour)}).PreviousSecretValid(now) {
		t.Fatal("App.PreviousSecretValid wrong")
	}
}

func TestReportValidateData(t *testing.T) {
	r := Report{App: "a", Room: "r", User: "u", Kind: "k", At: time.Now()}
	for _, d := range []string{"", "{}", ` {"a":1}`, `{"nested":{"x":[1,2]}}`} {
		r.Data = []byte(d)
		if err := r.Validate(); err != nil {
			t.Errorf("data %q: %v", d, err)
		}
	}
	for _, d := range []string{"null", "1", `"s"`, "[]", "{", `{"a":1}x`} {
		r.Data = []byte(d)
		if err := r.Validate(); err == nil {
			t.Errorf("data %q accepted", d)
		}
	}
	if string((Report{}).DataOrEmpty()) != "{}" {
		t.Error("DataOrEmpty of empty data is not {}")
	}
}
