package usage

import (
	"context"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// TestScenario scripts two rooms across an hour boundary (23:00) and a day
// boundary (midnight UTC) on a fake clock, through the real room manager
// and a real SQLite file, and checks every figure of every hour and day.
// The expected numbers are worked out by hand in the comments.
func TestScenario(t *testing.T) {
	day := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	at := func(h, m, s int) time.Time {
		return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	clk := newFakeClock(at(22, 58, 0))
	db := tempDB(t)
	a := newAccountant(t, db, clk, time.Minute)
	m := rooms(t, clk, a.Observe)
	yes, no := true, false

	alice := joinRoom(t, m, "alice", "r1") // 22:58:00, r1 created
	clk.set(t, at(22, 58, 30))
	bob := joinRoom(t, m, "bob", "r1")
	clk.set(t, at(22, 59, 0))
	goLive(t, m, alice, "main", protocol.MediaAudioVideo, 1280, 720)
	clk.set(t, at(22, 59, 10))
	_, err := bob.Subscribe([]ids.StreamID{"alice_main"}) // bob: 720p
	must(t, err)
	clk.set(t, at(23, 0, 0))
	flush(t, a) // a flush exactly on the hour boundary changes nothing
	clk.set(t, at(23, 1, 10))
	_, err = alice.Mute("main", nil, &yes) // bob: audio only
	must(t, err)
	clk.set(t, at(23, 2, 10))
	_, err = alice.Mute("main", nil, &no) // bob: 720p again
	must(t, err)
	clk.set(t, at(23, 10, 0))
	bob = joinRoom(t, m, "bob", "r1") // the same user from another device: replaces, no subscription
	clk.set(t, at(23, 10, 20))
	_, err = bob.Subscribe([]ids.StreamID{"alice_main"})
	must(t, err)
	clk.set(t, at(23, 30, 0))
	carol := joinRoom(t, m, "carol", "r2") // r2 created
	goLive(t, m, carol, "main", protocol.MediaAudioVideo, 640, 360)
	goLive(t, m, carol, "screen", protocol.MediaVideo, 640, 360)
	clk.set(t, at(23, 40, 0))
	dave := joinRoom(t, m, "dave", "r2")
	// Two 360p pictures: 460,800 pixels together, the 540p tier.
	_, err = dave.Subscribe([]ids.StreamID{"carol_main", "carol_screen"})
	must(t, err)
	clk.set(t, at(23, 45, 17).Add(300*time.Millisecond))
	flush(t, a) // mid-hour, off the second: changes nothing either
	clk.set(t, at(23, 50, 0))
	_, err = dave.Unsubscribe([]ids.StreamID{"carol_screen"}) // dave: 360p
	must(t, err)
	clk.set(t, at(24, 0, 0))
	_, err = dave.Unsubscribe([]ids.StreamID{"carol_main"}) // exactly at midnight: dave's call ends with the day
	must(t, err)
	clk.set(t, at(24, 0, 30))
	bob.Leave(protocol.ReasonLeft)
	clk.set(t, at(24, 1, 0))
	must(t, m.CloseRoom(testApp, "r1", "admin", "")) // ends alice and alice_main
	clk.set(t, at(24, 2, 0))
	must(t, m.CloseRoom(testApp, "r2", "admin", "")) // ends carol, dave, carol's two streams
	clk.set(t, at(24, 5, 0))
	must(t, a.Stop(context.Background()))

	a.mu.Lock()
	if len(a.apps) != 0 || !a.ledger.empty() {
		t.Errorf("after everything ended: %d app states, ledger empty %v", len(a.apps), a.ledger.empty())
	}
	a.mu.Unlock()

	// 22:00-23:00: online alice 120 + bob 90; alice_main from 22:59:00;
	// bob subscribed from 22:59:10 at 720p.
	h22 := store.UsageFigures{
		OnlineSeconds: 210, PublishSeconds: 60, SubscribeSeconds: 50, Call: store.CallSeconds{P720: 50},
		RoomsCreated: 1, PeakRooms: 1, PeakUsers: 2, PeakCallUsers: 1, UniqueUsers: 2, UniqueCallUsers: 1,
	}
	// 23:00-24:00: online alice 3600, bob 600+3000, carol 1800, dave 1200.
	// Publish alice_main 3600, carol's two streams 1800 each. Subscribe bob
	// 600+2980, dave carol_main 1200 + carol_screen 600. Call: bob 720p
	// 70+470+2980, audio 60; dave 540p 600 (two streams), 360p 600.
	h23 := store.UsageFigures{
		OnlineSeconds: 10200, PublishSeconds: 7200, SubscribeSeconds: 5380,
		Call:         store.CallSeconds{Audio: 60, P360: 600, P540: 600, P720: 3520},
		RoomsCreated: 1, PeakRooms: 2, PeakUsers: 4, PeakCallUsers: 2, UniqueUsers: 4, UniqueCallUsers: 2,
	}
	// 00:00-01:00 (the next day): online alice 60, bob 30, carol 120, dave
	// 120; publish alice_main 60, carol 120+120; bob subscribed 30 s at
	// 720p. Everyone was there at 00:00:00; only bob was in a call.
	h00 := store.UsageFigures{
		OnlineSeconds: 330, PublishSeconds: 300, SubscribeSeconds: 30, Call: store.CallSeconds{P720: 30},
		PeakRooms: 2, PeakUsers: 4, PeakCallUsers: 1, UniqueUsers: 4, UniqueCallUsers: 1,
	}
	wantPeriods(t, "hour", query(t, db, at(0, 0, 0), at(48, 0, 0), store.ByHour), map[time.Time]store.UsageFigures{
		at(22, 0, 0): h22, at(23, 0, 0): h23, at(24, 0, 0): h00,
	})
	day1 := store.UsageFigures{
		OnlineSeconds: 10410, PublishSeconds: 7260, SubscribeSeconds: 5430,
		Call:         store.CallSeconds{Audio: 60, P360: 600, P540: 600, P720: 3570},
		RoomsCreated: 2, PeakRooms: 2, PeakUsers: 4, PeakCallUsers: 2, UniqueUsers: 4, UniqueCallUsers: 2,
	}
	wantPeriods(t, "day", query(t, db, day, day.AddDate(0, 0, 2), store.ByDay), map[time.Time]store.UsageFigures{
		day: day1, day.AddDate(0, 0, 1): h00,
	})
	wantFigures(t, "total", total(t, db, day, day.AddDate(0, 0, 2)), store.UsageFigures{
		OnlineSeconds: 10740, PublishSeconds: 7560, SubscribeSeconds: 5460,
		Call:         store.CallSeconds{Audio: 60, P360: 600, P540: 600, P720: 3600},
		RoomsCreated: 2, PeakRooms: 2, PeakUsers: 4, PeakCallUsers: 2, UniqueUsers: 4, UniqueCallUsers: 2,
	})
}

// TestKickEndsEverything: a kicked publisher stops publishing and being
// online, and its subscribers stop subscribing (their call ends) at the
// moment of the kick; a user who leaves ends its own subscriptions.
func TestKickEndsEverything(t *testing.T) {
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	clk := newFakeClock(start)
	db := tempDB(t)
	a := newAccountant(t, db, clk, time.Minute)
	m := rooms(t, clk, a.Observe)

	alice := joinRoom(t, m, "alice", "r1")
	bob := joinRoom(t, m, "bob", "r1")
	carol := joinRoom(t, m, "carol", "r1")
	goLive(t, m, alice, "main", protocol.MediaAudio, 0, 0) // audio only
	goLive(t, m, bob, "main", protocol.MediaAudioVideo, 1920, 1080)
	_, err := bob.Subscribe([]ids.StreamID{"alice_main"})
	must(t, err)
	_, err = carol.Subscribe([]ids.StreamID{"alice_main", "bob_main"}) // 1080p
	must(t, err)
	clk.add(t, 10*time.Second)
	must(t, m.Kick(context.Background(), testApp, "r1", "alice", 0, "admin", "bye")) // at 10 s
	clk.add(t, 10*time.Second)
	carol.Leave(protocol.ReasonLeft) // at 20 s
	clk.add(t, 10*time.Second)
	must(t, a.Stop(context.Background())) // at 30 s bob is still there, publishing

	// Online: alice 10, bob 30, carol 20. Publish: alice 10, bob 30.
	// Subscribe: bob→alice 10, carol→alice 10, carol→bob 20. Call: bob
	// audio 10; carol 1080p 20 (audio adds no pixels).
	wantFigures(t, "total", total(t, db, start, start.Add(time.Hour)), store.UsageFigures{
		OnlineSeconds: 60, PublishSeconds: 40, SubscribeSeconds: 40,
		Call:         store.CallSeconds{Audio: 10, P1080: 20},
		RoomsCreated: 1, PeakRooms: 1, PeakUsers: 3, PeakCallUsers: 2, UniqueUsers: 3, UniqueCallUsers: 2,
	})
}

// TestSecondPrecision: each interval counts floor(end) - floor(start).
func TestSecondPrecision(t *testing.T) {
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	clk := newFakeClock(start.Add(900 * time.Millisecond))
	db := tempDB(t)
	a := newAccountant(t, db, clk, time.Minute)
	m := rooms(t, clk, a.Observe)

	// alice: 10:00:00.9 to 10:00:03.0, 2.1 s counted 3 - 0 = 3.
	// bob: 10:00:02.1 to 10:00:02.4, 0.3 s counted 2 - 2 = 0 (but he was
	// online, so he is a unique user and the peak is 2).
	alice := joinRoom(t, m, "alice", "r1")
	clk.set(t, start.Add(2100*time.Millisecond))
	bob := joinRoom(t, m, "bob", "r1")
	clk.set(t, start.Add(2400*time.Millisecond))
	bob.Leave(protocol.ReasonLeft)
	clk.set(t, start.Add(3*time.Second))
	alice.Leave(protocol.ReasonLeft)
	must(t, a.Stop(context.Background()))
	wantFigures(t, "total", total(t, db, start, start.Add(time.Hour)), store.UsageFigures{
		OnlineSeconds: 3, RoomsCreated: 1, PeakRooms: 1, PeakUsers: 2, UniqueUsers: 2,
	})
}

// TestSameUserInTwoRooms: online and subscribe time count per room, but the
// user is one user in the unique and peak counts.
func TestSameUserInTwoRooms(t *testing.T) {
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	clk := newFakeClock(start)
	db := tempDB(t)
	a := newAccountant(t, db, clk, time.Minute)
	m := rooms(t, clk, a.Observe)

	pub1 := joinRoom(t, m, "pub1", "r1")
	pub2 := joinRoom(t, m, "pub2", "r2")
	goLive(t, m, pub1, "main", protocol.MediaAudioVideo, 960, 540)
	goLive(t, m, pub2, "main", protocol.MediaAudioVideo, 640, 360)
	viewer1 := joinRoom(t, m, "viewer", "r1")
	viewer2 := joinRoom(t, m, "viewer", "r2")
	_, err := viewer1.Subscribe([]ids.StreamID{"pub1_main"})
	must(t, err)
	_, err = viewer2.Subscribe([]ids.StreamID{"pub2_main"})
	must(t, err)
	clk.add(t, time.Minute)
	must(t, a.Stop(context.Background()))
	// Each membership is its own subscriber: 540p in r1, 360p in r2.
	wantFigures(t, "total", total(t, db, start, start.Add(time.Hour)), store.UsageFigures{
		OnlineSeconds: 240, PublishSeconds: 120, SubscribeSeconds: 120,
		Call:         store.CallSeconds{P360: 60, P540: 60},
		RoomsCreated: 2, PeakRooms: 2, PeakUsers: 3, PeakCallUsers: 1, UniqueUsers: 3, UniqueCallUsers: 1,
	})
}
