package record

import (
	"fmt"
	"slices"
	"strings"
)

// Version is one stored version of an observation.
type Version struct {
	ID  VersionID
	Obs *Observation
}

// History is every known version of one observation, resolved: Heads are
// the versions no other version supersedes (more than one: a fork, two
// edits that did not see each other), Current is the head shown by
// default. A deleted Current means the observation is deleted.
type History struct {
	ID       string
	Versions []Version // in version id order
	Heads    []Version // in the order they are chosen: Current first
	Current  Version
}

// Forked reports whether the observation has concurrent heads.
func (h *History) Forked() bool { return len(h.Heads) > 1 }

// Resolve builds the history of one observation from its versions (in any
// order). Every version must carry the same observation id. Links to
// versions not (yet) known are fine: the linking version supersedes them
// whenever they arrive.
//
// The current version is the head with the latest updated time, then the
// greatest version id: every device that holds the same versions picks
// the same one.
func Resolve(versions []Version) (*History, error) {
	if len(versions) == 0 {
		return nil, fmt.Errorf("no versions: %w", ErrInvalid)
	}
	id := versions[0].Obs.ID
	vs := slices.Clone(versions)
	slices.SortFunc(vs, func(a, b Version) int { return strings.Compare(string(a.ID), string(b.ID)) })
	superseded := map[VersionID]bool{}
	for i, v := range vs {
		if v.Obs.ID != id {
			return nil, fmt.Errorf("version %s is of observation %q, not %q: %w", v.ID, v.Obs.ID, id, ErrInvalid)
		}
		if i > 0 && vs[i-1].ID == v.ID {
			return nil, fmt.Errorf("version %s given twice: %w", v.ID, ErrInvalid)
		}
		for _, l := range v.Obs.Links {
			if l != v.ID {
				superseded[l] = true
			}
		}
	}
	h := &History{ID: id, Versions: vs}
	for _, v := range vs {
		if !superseded[v.ID] {
			h.Heads = append(h.Heads, v)
		}
	}
	if len(h.Heads) == 0 {
		// Only possible with a cycle of links, which honest devices cannot
		// make (a version can only link to versions that existed before
		// it); treat every version as a head rather than lose data.
		h.Heads = slices.Clone(vs)
	}
	slices.SortFunc(h.Heads, func(a, b Version) int {
		if c := Time(b.Obs.Updated).Compare(Time(a.Obs.Updated)); c != 0 {
			return c
		}
		return strings.Compare(string(b.ID), string(a.ID))
	})
	h.Current = h.Heads[0]
	return h, nil
}
