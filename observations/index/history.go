package index

import (
	"database/sql"
	"fmt"
	"strings"

	"github.com/fieldsync/fieldsync/observations/record"
)

// This file holds what the map (package web) reads beyond list's
// queries: one observation's history, and envelopes for clustering.

// History resolves every indexed version of observation id from the
// index's copy of them (what Project.History finds by reading every
// core): one indexed lookup, for a map that opens observations on click.
// It returns nil, nil when the index holds no version of id.
func (x *Index) History(id string) (*record.History, error) {
	rows, err := x.db.Query(`SELECT version, record FROM fs_versions WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var versions []record.Version
	for rows.Next() {
		var v, rec string
		if err := rows.Scan(&v, &rec); err != nil {
			return nil, err
		}
		o, err := record.Decode([]byte(rec))
		if err != nil {
			return nil, fmt.Errorf("index: stored version %s: %w", v, err)
		}
		versions = append(versions, record.Version{ID: record.VersionID(v), Obs: o})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, nil
	}
	return record.Resolve(versions)
}

// Envelope is one observation's bounding box, as the R*Tree holds it.
type Envelope struct {
	FID                    int64
	Forked                 bool
	MinX, MaxX, MinY, MaxY float64
}

// Envelopes calls fn with the envelope of every current observation that
// has a geometry (deleted ones too when deleted), in fid order, straight
// from the R*Tree without decoding a record: what a map needs to group
// a whole project into clusters. The Envelope is reused between calls.
func (x *Index) Envelopes(deleted bool, fn func(e *Envelope) error) error {
	q := `SELECT o.fid, o.forked, r.minx, r.maxx, r.miny, r.maxy FROM observations o JOIN rtree_observations_geom r ON r.id = o.fid`
	if !deleted {
		q += ` WHERE o.deleted = 0`
	}
	rows, err := x.db.Query(q + ` ORDER BY o.fid`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var e Envelope
	for rows.Next() {
		if err := rows.Scan(&e.FID, &e.Forked, &e.MinX, &e.MaxX, &e.MinY, &e.MaxY); err != nil {
			return err
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ByFID calls fn with the observations of the given fids (from
// Envelopes), in fid order; a fid no longer in the index is skipped.
// The Item is reused between calls.
func (x *Index) ByFID(fids []int64, fn func(fid int64, it *Item) error) error {
	const part = 500
	for i := 0; i < len(fids); i += part {
		chunk := fids[i:min(i+part, len(fids))]
		args := make([]any, len(chunk))
		for j, f := range chunk {
			args[j] = f
		}
		rows, err := x.db.Query(`SELECT fid, version, author, forked, record FROM observations WHERE fid IN (`+strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")+`) ORDER BY fid`, args...)
		if err != nil {
			return err
		}
		var it Item
		var fid int64
		for rows.Next() {
			it = Item{}
			if err := rows.Scan(&fid, &it.Version, &it.Author, &it.Forked, &it.Raw); err != nil {
				rows.Close()
				return err
			}
			if err := fn(fid, &it); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// Generation grows whenever a version is indexed (the largest rowid of
// the versions table): a cheap way to tell that something changed.
func (x *Index) Generation() (int64, error) {
	var g sql.NullInt64
	err := x.db.QueryRow(`SELECT max(rowid) FROM fs_versions`).Scan(&g)
	return g.Int64, err
}
