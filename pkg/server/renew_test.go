package server

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestAdminTokenRenewal: an app-scoped client reuses its admin token while
// more than a quarter of its lifetime is left, and signs a new one after.
func TestAdminTokenRenewal(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &tokenSource{app: "app1", secret: "secret-0123456789", user: "ops", ttl: 8 * time.Minute, now: func() time.Time { return now }}
	first, err := s.get()
	if err != nil {
		t.Fatal(err)
	}
	claims := func(tok string) jwt.MapClaims {
		t.Helper()
		var m jwt.MapClaims
		if _, err := jwt.ParseWithClaims(tok, &m, func(*jwt.Token) (any, error) { return []byte("secret-0123456789"), nil },
			jwt.WithTimeFunc(func() time.Time { return now })); err != nil {
			t.Fatal(err)
		}
		return m
	}
	c := claims(first)
	if c["iss"] != "app1" || c["sub"] != "ops" || c["exp"].(float64) != float64(now.Add(8*time.Minute).Unix()) ||
		!strings.Contains(first, ".") || len(c["grants"].([]any)) != 1 || c["grants"].([]any)[0] != "admin" {
		t.Fatalf("claims %v", c)
	}
	now = now.Add(5*time.Minute + 59*time.Second) // 2m01s left: more than a quarter
	if tok, _ := s.get(); tok != first {
		t.Fatal("renewed too early")
	}
	now = now.Add(2 * time.Second) // 1m59s left
	second, err := s.get()
	if err != nil {
		t.Fatal(err)
	}
	if second == first || claims(second)["exp"].(float64) != float64(now.Add(8*time.Minute).Unix()) {
		t.Fatalf("not renewed: %v", claims(second))
	}
}
