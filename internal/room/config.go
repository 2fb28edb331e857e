// Package room is minirtc's room model: apps' rooms, their participants,
// streams, subscriptions, attributes and messages, and the permission rules
// between them. It is pure state, with no sockets: protocol adapters
// (internal/signal, later the REST API) call it, and it reports every change
// as an ordered Event to the participants' Sinks.
//
// Concurrency: each room has one mutex. Every change to a room happens under
// it and emits its events under it, so all participants see one order.
// Sinks are called with the lock held and must not block.
package room

import (
	"fmt"
	"time"
)

// Config holds the limits of the room model. Zero values mean "use the
// default" (see Defaults); limits are documented in docs/protocol.md.
type Config struct {
	// MaxParticipants is the most users in one room.
	MaxParticipants int `yaml:"max_participants"`
	// MaxRoomsPerApp is the most rooms one app may have at once.
	MaxRoomsPerApp int `yaml:"max_rooms_per_app"`
	// EmptyGrace is how long an empty room lives on (keeping its
	// attributes) before it is destroyed.
	EmptyGrace time.Duration `yaml:"empty_grace"`
	// MaxStreamsPerParticipant bounds how many tags one user publishes.
	MaxStreamsPerParticipant int `yaml:"max_streams_per_participant"`
	// MaxSubscriptions bounds how many streams one user subscribes to.
	MaxSubscriptions int `yaml:"max_subscriptions"`
	// MaxAttributes is the most keys in a room's attributes.
	MaxAttributes int `yaml:"max_attributes"`
	// MaxAttributeKeyBytes and MaxAttributeValueBytes bound one attribute.
	MaxAttributeKeyBytes   int `yaml:"max_attribute_key_bytes"`
	MaxAttributeValueBytes int `yaml:"max_attribute_value_bytes"`
	// MaxAttributesBytes bounds the sum of all keys and values of a room.
	MaxAttributesBytes int `yaml:"max_attributes_bytes"`
	// MaxMessageNameBytes and MaxMessageContentBytes bound a message (and an
	// attribute notification).
	MaxMessageNameBytes    int `yaml:"max_message_name_bytes"`
	MaxMessageContentBytes int `yaml:"max_message_content_bytes"`
	// MaxBan is the longest ban a kick may impose.
	MaxBan time.Duration `yaml:"max_ban"`
}

// Defaults returns the default limits.
func Defaults() Config {
	return Config{
		MaxParticipants:          50,
		MaxRoomsPerApp:           1000,
		EmptyGrace:               60 * time.Second,
		MaxStreamsPerParticipant: 4,
		MaxSubscriptions:         64,
		MaxAttributes:            64,
		MaxAttributeKeyBytes:     128,
		MaxAttributeValueBytes:   4096,
		MaxAttributesBytes:       64 << 10,
		MaxMessageNameBytes:      128,
		MaxMessageContentBytes:   16 << 10,
		MaxBan:                   30 * 24 * time.Hour,
	}
}

// withDefaults fills zero fields from Defaults.
func (c Config) withDefaults() Config {
	d := Defaults()
	fill := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&c.MaxParticipants, d.MaxParticipants)
	fill(&c.MaxRoomsPerApp, d.MaxRoomsPerApp)
	fill(&c.MaxStreamsPerParticipant, d.MaxStreamsPerParticipant)
	fill(&c.MaxSubscriptions, d.MaxSubscriptions)
	fill(&c.MaxAttributes, d.MaxAttributes)
	fill(&c.MaxAttributeKeyBytes, d.MaxAttributeKeyBytes)
	fill(&c.MaxAttributeValueBytes, d.MaxAttributeValueBytes)
	fill(&c.MaxAttributesBytes, d.MaxAttributesBytes)
	fill(&c.MaxMessageNameBytes, d.MaxMessageNameBytes)
	fill(&c.MaxMessageContentBytes, d.MaxMessageContentBytes)
	if c.EmptyGrace == 0 {
		c.EmptyGrace = d.EmptyGrace
	}
	if c.MaxBan == 0 {
		c.MaxBan = d.MaxBan
	}
	return c
}

// Validate rejects negative or nonsensical limits.
func (c Config) Validate() error {
	ints := []struct {
		name string
		v    int
	}{
		{"max_participants", c.MaxParticipants},
		{"max_rooms_per_app", c.MaxRoomsPerApp},
		{"max_streams_per_participant", c.MaxStreamsPerParticipant},
		{"max_subscriptions", c.MaxSubscriptions},
		{"max_attributes", c.MaxAttributes},
		{"max_attribute_key_bytes", c.MaxAttributeKeyBytes},
		{"max_attribute_value_bytes", c.MaxAttributeValueBytes},
		{"max_attributes_bytes", c.MaxAttributesBytes},
		{"max_message_name_bytes", c.MaxMessageNameBytes},
		{"max_message_content_bytes", c.MaxMessageContentBytes},
	}
	for _, i := range ints {
		if i.v < 0 {
			return fmt.Errorf("room.%s must not be negative, got %d", i.name, i.v)
		}
	}
	if c.EmptyGrace < 0 {
		return fmt.Errorf("room.empty_grace must not be negative, got %s", c.EmptyGrace)
	}
	if c.MaxBan < 0 {
		return fmt.Errorf("room.max_ban must not be negative, got %s", c.MaxBan)
	}
	return nil
}
