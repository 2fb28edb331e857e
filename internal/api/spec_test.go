package api_test

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/minirtc/minirtc/internal/api"
	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/store/sqlite"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// noMedia is a media plane with nothing in it, for an API built only to
// list its routes.
type noMedia struct{}

func (noMedia) StreamStats(ids.AppID, ids.RoomID, []ids.StreamID) []protocol.StreamStats { return nil }
func (noMedia) IngestURL(context.Context, auth.MediaGrant) (string, error)               { return "", nil }
func (noMedia) EndIngest(ids.AppID, ids.RoomID, ids.StreamID, ids.UserID)                {}

func newBareAPI(t *testing.T) *api.API {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rooms, err := room.NewManager(room.Config{}, room.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rooms.Shutdown)
	a, err := api.New(api.Config{}, api.Deps{Store: db, Apps: db, Rooms: rooms, Media: noMedia{}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestRoutesMatchSpec checks that the API serves exactly the operations of
// docs/openapi.yaml: every route it registers is in the spec, and every
// operation of the spec reaches a route of the running server (a request
// without credentials gets 401 there, where an unserved one gets 404/405).
func TestRoutesMatchSpec(t *testing.T) {
	s := loadSpec(t)
	var served []string
	for _, r := range newBareAPI(t).Routes() {
		method, path, _ := strings.Cut(r, " ")
		served = append(served, method+" "+strings.TrimPrefix(path, api.Prefix))
	}
	slices.Sort(served)
	documented := s.operations()
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("the API serves %s, which docs/openapi.yaml does not describe", r)
		}
	}
	for _, op := range documented {
		if !slices.Contains(served, op) {
			t.Errorf("docs/openapi.yaml describes %s, which the API does not serve", op)
		}
	}

	e := start(t, nil)
	fill := regexp.MustCompile(`\{[^}]+\}`)
	for _, op := range append(documented, served...) {
		method, tmpl, _ := strings.Cut(op, " ")
		path := fill.ReplaceAllStringFunc(tmpl, func(w string) string {
			switch w {
			case "{app}":
				return string(e.App.ID)
			case "{stream}":
				return "u_main"
			}
			return "x"
		})
		r := e.raw(method, path, "", "", nil)
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials: status %d (%s), want 401 from the route", method, path, r.Status, r.Body)
		}
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without WWW-Authenticate", method, path)
		}
	}
}

// TestSpecUsesOnlyCheckedKeywords makes sure every schema of the spec is
// one the test validator fully understands.
func TestSpecUsesOnlyCheckedKeywords(t *testing.T) {
	s := loadSpec(t)
	n := 0
	s.walkSchemas(func(where string, schema map[string]any) {
		n++
		for k := range schema {
			if !slices.Contains(constraintKeywords, k) && !slices.Contains(annotationKeywords, k) {
				t.Errorf("%s uses %q, which the test validator does not check", where, k)
			}
		}
		if _, err := s.resolve(schema); err != nil {
			t.Errorf("%s: %v", where, err)
		}
		if p, ok := schema["pattern"].(string); ok {
			if _, err := regexp.Compile(p); err != nil {
				t.Errorf("%s: pattern: %v", where, err)
			}
		}
	})
	if n < 50 {
		t.Fatalf("walked only %d schemas; is the walk broken?", n)
	}
}

// TestErrorCodesMatchSpec keeps the codes of the Error schema and
// api.Codes() equal.
func TestErrorCodesMatchSpec(t *testing.T) {
	s := loadSpec(t)
	code := s.schemaByName("Error")["properties"].(map[string]any)["error"].(map[string]any)["properties"].(map[string]any)["code"].(map[string]any)
	var inSpec []int
	for _, c := range code["enum"].([]any) {
		inSpec = append(inSpec, c.(int))
	}
	var inCode []int
	for _, c := range api.Codes() {
		inCode = append(inCode, int(c))
	}
	if !slices.Equal(inSpec, inCode) {
		t.Fatalf("Error.code enum in docs/openapi.yaml is %v, api.Codes() is %v", inSpec, inCode)
	}
	desc := code["description"].(string)
	for _, c := range inCode {
		if !strings.Contains(desc, strconv.Itoa(c)+" ") {
			t.Errorf("the Error.code description does not explain %d", c)
		}
	}
}

// TestValidatorCatchesMismatches shows that the response checks can fail.
func TestValidatorCatchesMismatches(t *testing.T) {
	s := loadSpec(t)
	app := s.schemaByName("App")
	good := `{"id":"app1","name":"n","limits":{"max_participants":0,"max_rooms":3},"created_at":1,"updated_at":2}`
	v, err := decodeForSchema([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if errs := s.validate(app, v, "body"); len(errs) != 0 {
		t.Fatalf("a valid app was refused: %v", errs)
	}
	for name, body := range map[string]string{
		"missing required":  `{"id":"app1","name":"n","limits":{"max_participants":0,"max_rooms":3},"created_at":1}`,
		"extra property":    `{"id":"app1","name":"n","limits":{"max_participants":0,"max_rooms":3},"created_at":1,"updated_at":2,"x":1}`,
		"wrong type":        `{"id":"app1","name":5,"limits":{"max_participants":0,"max_rooms":3},"created_at":1,"updated_at":2}`,
		"not an integer":    `{"id":"app1","name":"n","limits":{"max_participants":0.5,"max_rooms":3},"created_at":1,"updated_at":2}`,
		"below minimum":     `{"id":"app1","name":"n","limits":{"max_participants":-1,"max_rooms":3},"created_at":1,"updated_at":2}`,
		"pattern":           `{"id":"app 1","name":"n","limits":{"max_participants":0,"max_rooms":3},"created_at":1,"updated_at":2}`,
		"nested extra prop": `{"id":"app1","name":"n","limits":{"max_participants":0,"max_rooms":3,"y":1},"created_at":1,"updated_at":2}`,
		"too short":         `{"id":"app1","name":"","limits":{"max_participants":0,"max_rooms":3},"created_at":1,"updated_at":2}`,
	} {
		v, err := decodeForSchema([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if errs := s.validate(app, v, "body"); len(errs) == 0 {
			t.Errorf("%s: the validator accepted %s", name, body)
		}
	}
	errSchema := s.schemaByName("Error")
	v, _ = decodeForSchema([]byte(`{"error":{"code":9999,"message":"m"}}`))
	if errs := s.validate(errSchema, v, "body"); len(errs) == 0 {
		t.Error("an undocumented error code was accepted")
	}
	v, _ = decodeForSchema([]byte(`{"streams":[{"id":"a_main","user_id":"a","tag":"main","media":"radio","audio_muted":false,"video_disabled":false}]}`))
	if errs := s.validate(s.schemaByName("StreamList"), v, "body"); len(errs) == 0 {
		t.Error("a media type outside the enum was accepted")
	}
}
