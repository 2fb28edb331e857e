package room

import (
	"context"
	"sync"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// memBans keeps bans in memory, for a Manager without a store.
type memBans struct {
	mu   sync.Mutex
	bans map[banKey]store.Ban
}

type banKey struct {
	app  ids.AppID
	room ids.RoomID
	user ids.UserID
}

func newMemBans() *memBans { return &memBans{bans: make(map[banKey]store.Ban)} }

func (b *memBans) PutBan(_ context.Context, ban store.Ban) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bans[banKey{ban.App, ban.Room, ban.User}] = ban
	return nil
}

func (b *memBans) ActiveBan(_ context.Context, app ids.AppID, room ids.RoomID, user ids.UserID, now time.Time) (store.Ban, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ban, ok := b.bans[banKey{app, room, user}]
	if !ok || !now.Before(ban.Until) {
		return store.Ban{}, false, nil
	}
	return ban, true, nil
}

func (b *memBans) DeleteBan(_ context.Context, app ids.AppID, room ids.RoomID, user ids.UserID) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.bans, banKey{app, room, user})
	return nil
}
