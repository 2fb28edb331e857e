package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// clock is a settable time source for the cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newTestCache(inner AppLookup, ttl time.Duration) (*CachedApps, *clock) {
	clk := &clock{t: t0}
	c := NewCachedApps(inner, ttl)
	c.now = clk.now
	return c, clk
}

func TestCacheHitsAndExpires(t *testing.T) {
	ctx := context.Background()
	f := newFakeApps(store.App{ID: testApp, Secret: "one"})
	c, clk := newTestCache(f, 2*time.Second)
	for i := 0; i < 5; i++ {
		if a, err := c.GetApp(ctx, testApp); err != nil || a.Secret != "one" {
			t.Fatalf("GetApp = %+v, %v", a, err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d store lookups for 5 cached gets, want 1", n)
	}
	f.put(store.App{ID: testApp, Secret: "two"})
	clk.add(1999 * time.Millisecond)
	if a, _ := c.GetApp(ctx, testApp); a.Secret != "one" {
		t.Fatal("entry expired early")
	}
	clk.add(time.Millisecond)
	if a, _ := c.GetApp(ctx, testApp); a.Secret != "two" {
		t.Fatal("entry not refreshed after the TTL")
	}
	c.Forget(testApp)
	f.put(store.App{ID: testApp, Secret: "three"})
	if a, _ := c.GetApp(ctx, testApp); a.Secret != "three" {
		t.Fatal("Forget did not drop the entry")
	}
}

func TestCacheNotFoundBriefly(t *testing.T) {
	ctx := context.Background()
	f := newFakeApps()
	c, clk := newTestCache(f, 0) // default TTL
	if c.ttl != DefaultCacheTTL {
		t.Fatalf("ttl = %v, want default %v", c.ttl, DefaultCacheTTL)
	}
	for i := 0; i < 3; i++ {
		if _, err := c.GetApp(ctx, testApp); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetApp(missing) = %v, want ErrNotFound", err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d lookups, want 1 (not-found is cached)", n)
	}
	f.put(store.App{ID: testApp, Secret: "s"})
	clk.add(time.Second)
	if a, err := c.GetApp(ctx, testApp); err != nil || a.Secret != "s" {
		t.Fatalf("a new app is still unknown after a second: %v", err)
	}
}

func TestCacheDoesNotCacheErrors(t *testing.T) {
	ctx := context.Background()
	f := newFakeApps(store.App{ID: testApp, Secret: "s"})
	c, _ := newTestCache(f, time.Minute)
	boom := errors.New("disk on fire")
	f.err = boom
	if _, err := c.GetApp(ctx, testApp); !errors.Is(err, boom) {
		t.Fatalf("GetApp = %v, want the store error", err)
	}
	f.err = nil
	if a, err := c.GetApp(ctx, testApp); err != nil || a.Secret != "s" {
		t.Fatalf("after the store recovered: %+v, %v", a, err)
	}
}

func TestCacheRefresh(t *testing.T) {
	ctx := context.Background()
	f := newFakeApps(store.App{ID: testApp, Secret: "one"})
	c, clk := newTestCache(f, time.Minute)
	c.GetApp(ctx, testApp)
	f.put(store.App{ID: testApp, Secret: "two"})
	if a, _ := c.Refresh(ctx, testApp); a.Secret != "one" {
		t.Fatal("Refresh right after a fetch went to the store")
	}
	clk.add(minRefreshAge)
	if a, _ := c.Refresh(ctx, testApp); a.Secret != "two" {
		t.Fatal("Refresh did not go to the store")
	}
	if a, _ := c.GetApp(ctx, testApp); a.Secret != "two" {
		t.Fatal("Refresh did not update the cache")
	}
}

// TestVerifierPicksUpRotationThroughCache: the CLI rotates with no overlap
// and mints a token with the new secret; the server's cache still holds the
// old app, and must not refuse the new token.
func TestVerifierPicksUpRotationThroughCache(t *testing.T) {
	ctx := context.Background()
	f := newFakeApps(store.App{ID: testApp, Secret: testSecret})
	c, clk := newTestCache(f, time.Minute)
	v := &Verifier{Apps: c, Now: func() time.Time { return t0 }}
	if _, err := v.Verify(ctx, mustMint(testSecret, baseClaims())); err != nil {
		t.Fatal(err)
	}
	f.put(store.App{ID: testApp, Secret: "rotated-rotated-rotated-rotated-rotated-ro"})
	clk.add(time.Second)
	if _, err := v.Verify(ctx, mustMint("rotated-rotated-rotated-rotated-rotated-ro", baseClaims())); err != nil {
		t.Fatalf("new-secret token refused while the cache was stale: %v", err)
	}
	if _, err := v.Verify(ctx, mustMint(testSecret, baseClaims())); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("old-secret token after rotation without overlap: %v", err)
	}
	// Forged tokens do not each cost a store lookup.
	before := f.calls.Load()
	for i := 0; i < 50; i++ {
		v.Verify(ctx, mustMint("forged", baseClaims()))
	}
	if n := f.calls.Load() - before; n > 1 {
		t.Fatalf("50 forged tokens cost %d store lookups", n)
	}
}

func TestCacheBounded(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestCache(newFakeApps(), time.Minute)
	for i := 0; i < maxCacheEntries+500; i++ {
		c.GetApp(ctx, ids.AppID(fmt.Sprintf("app%d", i)))
	}
	if n := len(c.entries); n > maxCacheEntries {
		t.Fatalf("cache holds %d entries, the bound is %d", n, maxCacheEntries)
	}
}

func TestCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	f := newFakeApps(store.App{ID: testApp, Secret: testSecret})
	c := NewCachedApps(f, time.Millisecond)
	v := &Verifier{Apps: c, Now: func() time.Time { return t0 }}
	tok := mustMint(testSecret, baseClaims())
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if _, err := v.Verify(ctx, tok); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					c.Forget(testApp)
				}
			}
		}()
	}
	wg.Wait()
}
