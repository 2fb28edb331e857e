package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sort"
	"sync"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/server"
)

// role decides what a user may do in rooms and in this app server.
type role struct {
	Name   string
	Grants []server.Grant
	// Moderate: may use the app server's admin actions (kick).
	Moderate bool
}

var (
	teacher = role{"teacher", []server.Grant{server.GrantPublish, server.GrantSubscribe, server.GrantData, server.GrantAdmin}, true}
	student = role{"student", []server.Grant{server.GrantPublish, server.GrantSubscribe, server.GrantData}, false}
	viewer  = role{"viewer", []server.Grant{server.GrantSubscribe}, false}
)

type demoUser struct {
	ID       ids.UserID
	Name     string
	Password string
	Role     role
}

// demoUsers stand in for your user database. Their passwords are public:
// this is a demo, never expose it beyond your machine.
var demoUsers = map[string]demoUser{
	"alice": {"alice", "Alice (teacher)", "alice-pass", teacher},
	"bob":   {"bob", "Bob (student)", "bob-pass", student},
	"carol": {"carol", "Carol (viewer)", "carol-pass", viewer},
}

func demoUserNames() []string {
	var out []string
	for n := range demoUsers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// checkPassword compares in constant time (of the hashes, so neither the
// password's length nor whether the user exists shows in the timing).
func checkPassword(user, password string) (demoUser, bool) {
	u, ok := demoUsers[user]
	want := sha256.Sum256([]byte(u.Password))
	got := sha256.Sum256([]byte(password))
	return u, subtle.ConstantTimeCompare(want[:], got[:]) == 1 && ok
}

// Session limits: a login lasts sessionTTL; at most maxSessions live at
// once (the oldest is dropped), so repeated logins cannot grow memory.
const (
	sessionTTL  = 12 * time.Hour
	maxSessions = 10000
)

type session struct {
	user    demoUser
	expires time.Time
}

// sessions are logins, by random id (the cookie or bearer value).
type sessions struct {
	mu sync.Mutex
	m  map[string]session
}

func newSessions() *sessions { return &sessions{m: map[string]session{}} }

func (s *sessions) create(u demoUser, now time.Time) string {
	var b [32]byte
	rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	if len(s.m) >= maxSessions {
		oldest, when := "", time.Time{}
		for k, v := range s.m {
			if oldest == "" || v.expires.Before(when) {
				oldest, when = k, v.expires
			}
		}
		delete(s.m, oldest)
	}
	s.m[id] = session{user: u, expires: now.Add(sessionTTL)}
	return id
}

func (s *sessions) get(id string, now time.Time) (demoUser, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	if !ok || now.After(v.expires) {
		delete(s.m, id)
		return demoUser{}, false
	}
	return v.user, true
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}
