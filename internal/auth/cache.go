package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// Cache defaults: long enough that a burst of joins costs one query, short
// enough that a secret rotated by the CLI reaches the server almost at once.
const (
	DefaultCacheTTL = 2 * time.Second
	notFoundTTL     = time.Second
	// minRefreshAge stops a stream of forged tokens from turning every
	// failed signature into a database query.
	minRefreshAge = 250 * time.Millisecond
	// maxCacheEntries bounds memory when clients send tokens naming many
	// made-up apps (each would otherwise leave a not-found entry).
	maxCacheEntries = 10000
)

// CachedApps is an AppLookup that remembers answers for a short time so a
// busy server does not query the store on every join. Missing apps are
// remembered too, more briefly; other errors are not cached. It is safe for
// concurrent use.
type CachedApps struct {
	inner       AppLookup
	ttl         time.Duration
	notFoundTTL time.Duration
	now         func() time.Time // for tests

	mu      sync.Mutex
	entries map[ids.AppID]cacheEntry
}

type cacheEntry struct {
	app      store.App
	notFound bool
	fetched  time.Time
	expires  time.Time
}

var (
	_ AppLookup = (*CachedApps)(nil)
	_ Refresher = (*CachedApps)(nil)
)

// NewCachedApps wraps inner with a cache keeping apps for ttl (<= 0 means
// DefaultCacheTTL) and missing apps for at most a second.
func NewCachedApps(inner AppLookup, ttl time.Duration) *CachedApps {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	return &CachedApps{
		inner:       inner,
		ttl:         ttl,
		notFoundTTL: min(ttl, notFoundTTL),
		now:         time.Now,
		entries:     make(map[ids.AppID]cacheEntry),
	}
}

// GetApp returns the cached app, or asks the inner lookup.
func (c *CachedApps) GetApp(ctx context.Context, id ids.AppID) (store.App, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		return e.result(id)
	}
	return c.fetch(ctx, id)
}

// Refresh bypasses the cache unless the entry was fetched moments ago.
func (c *CachedApps) Refresh(ctx context.Context, id ids.AppID) (store.App, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && c.now().Sub(e.fetched) < minRefreshAge && c.now().Before(e.expires) {
		return e.result(id)
	}
	return c.fetch(ctx, id)
}

// Forget drops id from the cache, for callers that changed the app in this
// process (e.g. rotated its secret through the API).
func (c *CachedApps) Forget(id ids.AppID) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}

func (e cacheEntry) result(id ids.AppID) (store.App, error) {
	if e.notFound {
		return store.App{}, fmt.Errorf("app %q: %w", id, store.ErrNotFound)
	}
	return e.app, nil
}

func (c *CachedApps) fetch(ctx context.Context, id ids.AppID) (store.App, error) {
	app, err := c.inner.GetApp(ctx, id)
	notFound := errors.Is(err, store.ErrNotFound)
	if err != nil && !notFound {
		return store.App{}, err // a store outage must not be remembered as "no such app"
	}
	now := c.now()
	e := cacheEntry{app: app, notFound: notFound, fetched: now, expires: now.Add(c.ttl)}
	if notFound {
		e.expires = now.Add(c.notFoundTTL)
	}
	c.mu.Lock()
	if len(c.entries) >= maxCacheEntries {
		c.evictLocked(now)
	}
	c.entries[id] = e
	c.mu.Unlock()
	return app, err
}

// evictLocked drops expired entries, and if that frees nothing, an arbitrary
// one: the cache is an optimisation, never the source of truth.
func (c *CachedApps) evictLocked(now time.Time) {
	for id, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, id)
		}
	}
	for id := range c.entries {
		if len(c.entries) < maxCacheEntries {
			break
		}
		delete(c.entries, id)
	}
}
