package room

import (
	"maps"
	"slices"
	"unicode/utf8"

	"github.com/minirtc/minirtc/pkg/protocol"
)

// SetAttributes sets room attributes (all or none) and tells the others,
// with the optional notification. It returns the room's attributes after
// the change.
func (m *Member) SetAttributes(attrs map[string]string, notify *protocol.Notification) (map[string]string, error) {
	cfg := m.room.m.cfg
	if len(attrs) == 0 {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "attributes is empty")
	}
	if len(attrs) > cfg.MaxAttributes {
		return nil, protocol.Errorf(protocol.CodeAttributeLimit, "%d attributes in one request, a room holds at most %d", len(attrs), cfg.MaxAttributes)
	}
	for k, v := range attrs {
		if err := checkText("attribute key", k, cfg.MaxAttributeKeyBytes, true, protocol.CodeAttributeLimit); err != nil {
			return nil, err
		}
		if len(v) > cfg.MaxAttributeValueBytes {
			return nil, protocol.Errorf(protocol.CodeAttributeLimit, "value of attribute %q is %d bytes, the limit is %d", k, len(v), cfg.MaxAttributeValueBytes)
		}
	}
	if err := m.checkNotify(notify); err != nil {
		return nil, err
	}
	if err := m.lock(); err != nil {
		return nil, err
	}
	defer m.unlock()
	if err := m.id.Grants.require(GrantData, "set_attributes"); err != nil {
		return nil, err
	}
	r := m.room
	count, size := len(r.attrs), r.attrBytes
	for k, v := range attrs {
		if old, ok := r.attrs[k]; ok {
			size += len(v) - len(old)
		} else {
			count++
			size += len(k) + len(v)
		}
	}
	if count > cfg.MaxAttributes {
		return nil, protocol.Errorf(protocol.CodeAttributeLimit, "the room would have %d attributes, the limit is %d", count, cfg.MaxAttributes)
	}
	if size > cfg.MaxAttributesBytes {
		return nil, protocol.Errorf(protocol.CodeAttributeLimit, "the room's attributes would total %d bytes, the limit is %d", size, cfg.MaxAttributesBytes)
	}
	maps.Copy(r.attrs, attrs)
	r.attrBytes = size
	r.emit(protocol.EvAttributesChanged, &protocol.AttributesChangedEvent{
		Set: maps.Clone(attrs), By: m.id.User, Notify: notify,
	}, m.id.User, nil)
	return maps.Clone(r.attrs), nil
}

// GetAttributes returns the listed attributes that exist, or all of them
// when keys is empty. Any participant may read attributes.
func (m *Member) GetAttributes(keys []string) (map[string]string, error) {
	if err := m.lock(); err != nil {
		return nil, err
	}
	defer m.unlock()
	if len(keys) == 0 {
		return maps.Clone(m.room.attrs), nil
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		if v, ok := m.room.attrs[k]; ok {
			out[k] = v
		}
	}
	return out, nil
}

// DeleteAttributes removes attributes; keys that do not exist are ignored.
// Others are told when something was deleted or a notification is given.
// It returns the room's attributes after the change.
func (m *Member) DeleteAttributes(keys []string, notify *protocol.Notification) (map[string]string, error) {
	cfg := m.room.m.cfg
	if len(keys) == 0 {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "keys is empty")
	}
	if len(keys) > cfg.MaxAttributes {
		return nil, protocol.Errorf(protocol.CodeAttributeLimit, "%d keys in one request, a room holds at most %d", len(keys), cfg.MaxAttributes)
	}
	if err := m.checkNotify(notify); err != nil {
		return nil, err
	}
	if err := m.lock(); err != nil {
		return nil, err
	}
	defer m.unlock()
	if err := m.id.Grants.require(GrantData, "delete_attributes"); err != nil {
		return nil, err
	}
	r := m.room
	var deleted []string
	for _, k := range keys {
		if v, ok := r.attrs[k]; ok {
			r.attrBytes -= len(k) + len(v)
			delete(r.attrs, k)
			deleted = append(deleted, k)
		}
	}
	if len(deleted) > 0 || notify != nil {
		slices.Sort(deleted)
		r.emit(protocol.EvAttributesChanged, &protocol.AttributesChangedEvent{
			Deleted: deleted, By: m.id.User, Notify: notify,
		}, m.id.User, nil)
	}
	return maps.Clone(r.attrs), nil
}

func (m *Member) checkNotify(n *protocol.Notification) error {
	if n == nil {
		return nil
	}
	cfg := m.room.m.cfg
	if err := checkText("notify.name", n.Name, cfg.MaxMessageNameBytes, true, protocol.CodeMessageTooLarge); err != nil {
		return err
	}
	if len(n.Content) > cfg.MaxMessageContentBytes {
		return protocol.Errorf(protocol.CodeMessageTooLarge, "notify.content is %d bytes, the limit is %d", len(n.Content), cfg.MaxMessageContentBytes)
	}
	return nil
}

// checkText validates a short label: valid UTF-8, no control characters,
// within limit bytes (else tooLong), and non-empty when required.
func checkText(field, s string, limit int, required bool, tooLong protocol.Code) error {
	if required && s == "" {
		return protocol.Errorf(protocol.CodeInvalidField, "%s is empty", field)
	}
	if len(s) > limit {
		return protocol.Errorf(tooLong, "%s is %d bytes, the limit is %d", field, len(s), limit)
	}
	if !utf8.ValidString(s) {
		return protocol.Errorf(protocol.CodeInvalidField, "%s is not valid UTF-8", field)
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return protocol.Errorf(protocol.CodeInvalidField, "%s contains control character %U", field, c)
		}
	}
	return nil
}
