package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/fieldsync/fieldsync/observations/record"
)

// Property names exports give their own fields. Tags may not start with
// observation.ReservedTagPrefix, so these never collide with a tag.
const (
	PropID          = "fieldsync:id"
	PropVersion     = "fieldsync:version"
	PropCreated     = "fieldsync:created"
	PropUpdated     = "fieldsync:updated"
	PropAuthor      = "fieldsync:author"      // the device's name
	PropDevice      = "fieldsync:device"      // the key of the device's data core, which signs
	PropAttachments = "fieldsync:attachments" // attachment names
	PropForked      = "fieldsync:forked"
	PropDeleted     = "fieldsync:deleted"
	// In evidence bundles only: the device that wrote the observation's
	// first version, and how many versions the bundle holds.
	PropOriginalAuthor = "fieldsync:originalAuthor"
	PropVersions       = "fieldsync:versions"
)

// Record is one observation to export: its current version as stored.
type Record struct {
	Version record.VersionID
	Author  string // device name ("" if unknown)
	Forked  bool
	Obs     *record.Observation
	// Evidence bundles also show where the observation comes from.
	OriginalAuthor string // the author of its first version ("": not shown)
	Versions       int    // how many versions of it the bundle holds (0: not shown)
}

// Feature is the RFC 7946 Feature of a record: the observation id as the
// feature id, its geometry (lon, lat[, alt]), its tags as top-level
// properties (so GIS tools show them as columns) and fieldsync's fields
// under reserved names. Keys are sorted: the same record always gives
// the same bytes (Verify relies on it).
func Feature(r *Record) ([]byte, error) {
	o := r.Obs
	var b bytes.Buffer
	b.WriteString(`{"type":"Feature","id":`)
	writeJSON(&b, o.ID)
	b.WriteString(`,"geometry":`)
	if o.Geometry == nil || o.Geometry.IsZero() {
		b.WriteString("null")
	} else {
		g, err := o.Geometry.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b.Write(g)
	}
	b.WriteString(`,"properties":{`)
	props := Properties(r)
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSON(&b, k)
		b.WriteByte(':')
		v, err := json.Marshal(props[k])
		if err != nil {
			return nil, fmt.Errorf("observation %s: property %q: %w", o.ID, k, err)
		}
		b.Write(v)
	}
	b.WriteString("}}")
	return b.Bytes(), nil
}

// Properties are a record's tags and fieldsync's fields.
func Properties(r *Record) map[string]any {
	o := r.Obs
	core, _, _ := strings.Cut(string(r.Version), "@")
	props := make(map[string]any, len(o.Tags)+8)
	for k, t := range o.Tags {
		props[k] = t.Value()
	}
	names := make([]string, 0, len(o.Attachments))
	for _, a := range o.Attachments {
		names = append(names, a.Name)
	}
	props[PropID] = o.ID
	props[PropVersion] = string(r.Version)
	props[PropCreated] = o.Created
	props[PropUpdated] = o.Updated
	props[PropAuthor] = r.Author
	props[PropDevice] = core
	props[PropAttachments] = names
	if r.Forked {
		props[PropForked] = true
	}
	if o.Deleted {
		props[PropDeleted] = true
	}
	if r.OriginalAuthor != "" {
		props[PropOriginalAuthor] = r.OriginalAuthor
	}
	if r.Versions > 0 {
		props[PropVersions] = r.Versions
	}
	return props
}

func writeJSON(b *bytes.Buffer, s string) {
	v, _ := json.Marshal(s)
	b.Write(v)
}
