package server_test

import (
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/minirtc/minirtc/pkg/protocol"
	"github.com/minirtc/minirtc/pkg/server"
)

// schemaTypes maps the spec's schemas to the SDK's types.
var schemaTypes = map[string]any{
	"App": server.App{}, "AppLimits": server.AppLimits{}, "LimitsRequest": server.LimitsRequest{},
	"CreateAppRequest": server.CreateAppRequest{}, "UpdateAppRequest": server.UpdateAppRequest{},
	"RotateSecretRequest": server.RotateSecretRequest{}, "MintTokenRequest": server.MintTokenRequest{}, "Token": server.Token{},
	"RoomSummary": server.RoomSummary{}, "Room": server.Room{}, "Participant": server.Participant{},
	"Stream": protocol.Stream{}, "VideoInfo": protocol.VideoInfo{}, "AudioInfo": protocol.AudioInfo{},
	"StreamStats": server.StreamStats{}, "StreamEntry": server.StreamEntry{}, "MuteRequest": server.MuteRequest{},
	"UpdateParticipantRequest": server.UpdateParticipantRequest{}, "KickRequest": server.KickRequest{}, "Ban": server.Ban{},
	"Notification": server.Notification{}, "SetAttributesRequest": server.SetAttributesRequest{},
	"DeleteAttributesRequest": server.DeleteAttributesRequest{}, "MessageRequest": server.MessageRequest{},
	"Report": server.Report{}, "IngestRequest": server.IngestRequest{}, "Ingest": server.Ingest{},
	"CallSeconds": server.CallSeconds{}, "UsageFigures": server.UsageFigures{}, "UsagePeriod": server.UsagePeriod{},
	"Usage": server.Usage{}, "WebhookCounts": server.WebhookCounts{}, "WebhookSettings": server.WebhookSettings{},
	"PutWebhookRequest": server.PutWebhookRequest{}, "WebhookEvent": server.Event{}, "WebhookDelivery": server.WebhookDelivery{},
	"WebhookDeliveryList": server.WebhookDeliveries{},
}

// jsonFields lists the JSON names of t's fields, embedded structs flattened.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// TestTypesMatchSchemas: each SDK type has exactly the properties of the
// schema it mirrors, so a field added to or renamed in the spec shows here.
// Schemas that are only wrappers ({"rooms": [...]}) are unwrapped by the
// methods and need no type; every other object schema must have one.
func TestTypesMatchSchemas(t *testing.T) {
	b, err := os.ReadFile("../../docs/openapi.yaml")
	must(t, err)
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Type       string               `yaml:"type"`
				Properties map[string]yaml.Node `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	must(t, yaml.Unmarshal(b, &doc))
	wrappers := []string{"AppList", "RoomList", "StreamList", "StreamResponse", "Attributes", "MessageSent", "ReportList",
		"IngestList", "ReasonRequest", "Error"}
	for name, s := range doc.Components.Schemas {
		if s.Type != "object" || slices.Contains(wrappers, name) {
			continue
		}
		v, ok := schemaTypes[name]
		if !ok {
			t.Errorf("schema %s has no SDK type", name)
			continue
		}
		var props []string
		for p := range s.Properties {
			props = append(props, p)
		}
		sort.Strings(props)
		if got := jsonFields(reflect.TypeOf(v)); !slices.Equal(got, props) {
			t.Errorf("%s: the SDK type has fields %v, the schema %v", name, got, props)
		}
	}
	for name := range schemaTypes {
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("schemaTypes has %s, which the spec does not", name)
		}
	}
}
