package web

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
)

// selection is list's filter plus the map's own: the author device
// (name, or a prefix of its data core key) and text in a tag's value.
type selection struct {
	f      *query.Filter
	device string
	text   string
	params map[string]any // what was asked, for an evidence manifest
}

// parseSelection reads the query parameters the way list reads its flags.
func parseSelection(q url.Values) (*selection, error) {
	f := &query.Filter{}
	sel := &selection{f: f, params: map[string]any{}}
	for k, v := range q {
		switch k {
		case "bbox", "near", "radius", "since", "until", "tag", "deleted", "device", "q", "zoom":
		default:
			return nil, fmt.Errorf("unknown parameter %q (the filters are bbox, near, radius, since, until, tag, deleted, device, q, zoom)", k)
		}
		if k != "tag" && len(v) > 1 {
			return nil, fmt.Errorf("%s given %d times", k, len(v))
		}
		if k != "zoom" {
			if k == "tag" {
				sel.params[k] = v
			} else {
				sel.params[k] = v[0]
			}
		}
	}
	if s := q.Get("bbox"); s != "" {
		b, err := geo.ParseBBox(s)
		if err != nil {
			return nil, fmt.Errorf("bbox: %v", err)
		}
		f.BBox = &b
	}
	near, radius := q.Get("near"), q.Get("radius")
	if (near == "") != (radius == "") {
		return nil, fmt.Errorf("near and radius go together")
	}
	if near != "" {
		c, err := geo.ParseLatLon(near)
		if err != nil {
			return nil, fmt.Errorf("near: %v", err)
		}
		r, err := geo.ParseDistance(radius)
		if err != nil {
			return nil, fmt.Errorf("radius: %v", err)
		}
		f.Near = &geo.Circle{Center: c, Radius: r}
	}
	var err error
	if s := q.Get("since"); s != "" {
		if f.Since, err = query.ParseTime(s); err != nil {
			return nil, fmt.Errorf("since: %v", err)
		}
	}
	if s := q.Get("until"); s != "" {
		if f.Until, err = query.ParseTime(s); err != nil {
			return nil, fmt.Errorf("until: %v", err)
		}
	}
	for _, t := range q["tag"] {
		if t == "" {
			continue
		}
		k, v, err := ParseTag(t)
		if err != nil {
			return nil, err
		}
		if f.Tags == nil {
			f.Tags = map[string]record.Tag{}
		}
		f.Tags[k] = v
	}
	switch q.Get("deleted") {
	case "", "false", "0":
	case "true", "1":
		f.Deleted = true
	default:
		return nil, fmt.Errorf("deleted must be true or false")
	}
	sel.device = strings.TrimSpace(q.Get("device"))
	sel.text = strings.ToLower(strings.TrimSpace(q.Get("q")))
	return sel, nil
}

// ParseTag reads KEY=VALUE as list's --tag does: true/false become
// booleans, plain numbers numbers, anything else a string.
func ParseTag(s string) (string, record.Tag, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return "", record.Tag{}, fmt.Errorf("tag %q: want KEY=VALUE", s)
	}
	switch v {
	case "true", "false":
		return k, record.Bool(v == "true"), nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && strconv.FormatFloat(f, 'f', -1, 64) == v {
		return k, record.Number(f), nil
	}
	return k, record.String(v), nil
}

// extra reports whether the selection has filters beyond list's.
func (sel *selection) extra() bool { return sel.device != "" || sel.text != "" }

// match applies the map's own filters to an item list's filter passed.
func (sel *selection) match(it *index.Item, o *record.Observation) bool {
	if sel.device != "" {
		core, _, _ := strings.Cut(it.Version, "@")
		if !strings.EqualFold(it.Author, sel.device) && !(len(sel.device) >= 4 && strings.HasPrefix(core, strings.ToLower(sel.device))) {
			return false
		}
	}
	if sel.text != "" {
		found := false
		for _, t := range o.Tags {
			if textIn(t.Value(), sel.text) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func textIn(v any, lower string) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(strings.ToLower(x), lower)
	case []any:
		for _, e := range x {
			if textIn(e, lower) {
				return true
			}
		}
	case []record.Tag:
		for _, e := range x {
			if textIn(e.Value(), lower) {
				return true
			}
		}
	}
	return false
}
