package index

import (
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observation"
	"github.com/fieldsync/fieldsync/query"
	_ "github.com/mattn/go-sqlite3" // the SQLite driver (cgo), as DESIGN.md names it
	"github.com/paulmach/orb"
)

// ErrRebuild: a core no longer extends what was indexed (its writer
// truncated it); the index must be rebuilt.
var ErrRebuild = errors.New("index out of step with the cores: run `fieldsync reindex`")

// Index is an open index.gpkg.
type Index struct {
	db   *sql.DB
	path string
}

// Open opens (creating it if needed) the index at path, in WAL mode so
// that other processes can read while it is updated.
func Open(path string) (*Index, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on")
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	return &Index{db: db, path: path}, nil
}

// Close closes the index.
func (x *Index) Close() error { return x.db.Close() }

// Remove deletes an index file and its WAL companions (for reindex).
func Remove(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Stats of an Update.
type Stats struct {
	Blocks       uint64 // blocks read
	Versions     uint64 // observation versions added
	Observations int    // observations whose current version was recomputed
}

// stmts are the statements of one Update, prepared once.
type stmts struct {
	addVersion, versionsOf, upsertObs, delRtree, addRtree *sql.Stmt
	authors                                               map[string]string
}

func prepare(tx *sql.Tx) (*stmts, error) {
	var s stmts
	var err error
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&s.addVersion, `INSERT OR IGNORE INTO fs_versions(version, id, record) VALUES (?, ?, ?)`},
		{&s.versionsOf, `SELECT version, record FROM fs_versions WHERE id = ?`},
		{&s.upsertObs, `INSERT INTO observations(geom, id, version, author, created, updated, deleted, forked, tags, record)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(id) DO UPDATE SET geom = excluded.geom, version = excluded.version, author = excluded.author,
			  created = excluded.created, updated = excluded.updated, deleted = excluded.deleted, forked = excluded.forked,
			  tags = excluded.tags, record = excluded.record
			RETURNING fid`},
		{&s.delRtree, `DELETE FROM rtree_observations_geom WHERE id = ?`},
		{&s.addRtree, `INSERT INTO rtree_observations_geom VALUES (?, ?, ?, ?, ?)`},
	} {
		if *p.dst, err = tx.Prepare(p.q); err != nil {
			return nil, err
		}
	}
	s.authors = map[string]string{}
	rows, err := tx.Query(`SELECT key, author FROM fs_cores`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k, a string
		if err := rows.Scan(&k, &a); err != nil {
			return nil, err
		}
		s.authors[k] = a
	}
	return &s, rows.Err()
}

// Update indexes the blocks added to the cores (key → directory) since the
// last update, in one transaction: a failure leaves the index as it was.
func (x *Index) Update(cores map[[32]byte]string) (Stats, error) {
	var st Stats
	tx, err := x.db.Begin()
	if err != nil {
		return st, err
	}
	defer tx.Rollback()
	ps, err := prepare(tx)
	if err != nil {
		return st, err
	}
	affected := map[string]bool{}
	for key, dir := range cores {
		k := hex.EncodeToString(key[:])
		var indexed uint64
		var author string
		err := tx.QueryRow(`SELECT indexed, author FROM fs_cores WHERE key = ?`, k).Scan(&indexed, &author)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return st, err
		}
		c, err := hypercore.Open(dir, hypercore.OpenOptions{ReadOnly: true})
		if err != nil {
			return st, fmt.Errorf("index core %s: %w", k[:8], err)
		}
		n := c.Contiguous()
		if n < indexed {
			c.Close()
			return st, fmt.Errorf("core %s holds %d blocks, %d were indexed: %w", k[:8], n, indexed, ErrRebuild)
		}
		for i := indexed; i < n; i++ {
			b, err := c.Get(i)
			if err != nil {
				c.Close()
				return st, fmt.Errorf("index core %s block %d: %w", k[:8], i, err)
			}
			st.Blocks++
			kind, err := observation.Kind(b)
			if err != nil {
				continue
			}
			switch kind {
			case observation.TypeDevice:
				if d, err := observation.DecodeDevice(b); err == nil && d.Data == k {
					author = d.Name
				}
			case observation.TypeObservation:
				o, err := observation.Decode(b)
				if err != nil {
					continue // not readable by this version: skipped
				}
				v := observation.NewVersionID(key, i)
				if _, err := ps.addVersion.Exec(string(v), o.ID, string(b)); err != nil {
					c.Close()
					return st, err
				}
				st.Versions++
				affected[o.ID] = true
			}
		}
		c.Close()
		ps.authors[k] = author
		if _, err := tx.Exec(`INSERT INTO fs_cores(key, indexed, author) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET indexed = excluded.indexed, author = excluded.author`, k, n, author); err != nil {
			return st, err
		}
	}
	ids := make([]string, 0, len(affected))
	for id := range affected {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := refresh(ps, id); err != nil {
			return st, err
		}
		st.Observations++
	}
	if len(ids) > 0 {
		if _, err := tx.Exec(`UPDATE gpkg_contents SET
			min_x = (SELECT min(minx) FROM rtree_observations_geom), max_x = (SELECT max(maxx) FROM rtree_observations_geom),
			min_y = (SELECT min(miny) FROM rtree_observations_geom), max_y = (SELECT max(maxy) FROM rtree_observations_geom),
			last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = 'observations'`); err != nil {
			return st, err
		}
	}
	return st, tx.Commit()
}

// refresh recomputes the current version of one observation.
func refresh(ps *stmts, id string) error {
	rows, err := ps.versionsOf.Query(id)
	if err != nil {
		return err
	}
	var versions []observation.Version
	for rows.Next() {
		var v, rec string
		if err := rows.Scan(&v, &rec); err != nil {
			rows.Close()
			return err
		}
		o, err := observation.Decode([]byte(rec))
		if err != nil {
			rows.Close()
			return fmt.Errorf("index: stored version %s: %w", v, err)
		}
		versions = append(versions, observation.Version{ID: observation.VersionID(v), Obs: o})
	}
	rows.Close()
	h, err := observation.Resolve(versions)
	if err != nil {
		return err
	}
	cur := h.Current.Obs
	rec, err := cur.Encode()
	if err != nil {
		return err
	}
	tags, err := encodeTags(cur.Tags)
	if err != nil {
		return err
	}
	var geom []byte
	var bound orb.Bound
	if cur.Geometry != nil && !cur.Geometry.IsZero() {
		if geom, err = gpkgGeometry(cur.Geometry.Orb()); err != nil {
			return err
		}
		bound = cur.Geometry.Bound()
	}
	core, _, _ := strings.Cut(string(h.Current.ID), "@")
	var fid int64
	err = ps.upsertObs.QueryRow(geom, id, string(h.Current.ID), ps.authors[core], cur.Created, cur.Updated, cur.Deleted, h.Forked(), tags, string(rec)).Scan(&fid)
	if err != nil {
		return err
	}
	if _, err := ps.delRtree.Exec(fid); err != nil {
		return err
	}
	if geom != nil {
		if _, err := ps.addRtree.Exec(fid, bound.Min[0], bound.Max[0], bound.Min[1], bound.Max[1]); err != nil {
			return err
		}
	}
	return nil
}

// encodeTags is the tags as one JSON object, keys sorted.
func encodeTags(tags map[string]observation.Tag) (string, error) {
	var b strings.Builder
	b.WriteByte('{')
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := jsonString(k)
		vb, err := tags[k].MarshalJSON()
		if err != nil {
			return "", err
		}
		b.WriteString(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.String(), nil
}

// Item is one result of a query.
type Item struct {
	Version string
	Author  string
	Forked  bool
	Raw     []byte                   // the current version's block: canonical JSON
	Record  *observation.Observation // decoded (nil if the query did not need to; see Observation)
}

// Observation is the decoded record.
func (it *Item) Observation() (*observation.Observation, error) {
	if it.Record == nil {
		o, err := observation.Decode(it.Raw)
		if err != nil {
			return nil, fmt.Errorf("index: record of %s: %w", it.Version, err)
		}
		it.Record = o
	}
	return it.Record, nil
}

// Query returns the observations that pass f, ordered by creation time
// then id, at most limit of them (0: all). A place filter prefilters
// with the R*Tree; every candidate is then tested exactly with f.
func (x *Index) Query(f *query.Filter, limit int) ([]Item, error) {
	return x.query(f, limit, true)
}

// query is Query; without useRtree every row is tested (the brute-force
// baseline of the benchmarks).
func (x *Index) query(f *query.Filter, limit int, useRtree bool) ([]Item, error) {
	where, args := "", []any(nil)
	if useRtree {
		where, args = prefilter(f)
	}
	q := `SELECT version, author, forked, record, created, id FROM observations o`
	var conds []string
	if where != "" {
		conds = append(conds, where)
	}
	if !f.Deleted {
		conds = append(conds, "o.deleted = 0")
	}
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	rows, err := x.db.Query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	decode := !f.OnlyDeleted() // the deleted flag is tested in SQL
	type sortKey struct {
		t  time.Time
		id string
	}
	var out []Item
	var keys []sortKey
	for rows.Next() {
		var it Item
		var created, id string
		if err := rows.Scan(&it.Version, &it.Author, &it.Forked, &it.Raw, &created, &id); err != nil {
			return nil, err
		}
		if decode {
			o, err := it.Observation()
			if err != nil {
				return nil, err
			}
			if !f.Match(o) {
				continue
			}
		}
		out = append(out, it)
		keys = append(keys, sortKey{observation.Time(created), id})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	order := make([]int, len(out))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := keys[order[i]], keys[order[j]]
		if c := a.t.Compare(b.t); c != 0 {
			return c < 0
		}
		return a.id < b.id
	})
	sorted := make([]Item, 0, len(out))
	for _, k := range order {
		sorted = append(sorted, out[k])
	}
	if limit > 0 && len(sorted) > limit {
		sorted = sorted[:limit]
	}
	return sorted, nil
}

// prefilter is an R*Tree condition from the most selective place filter.
func prefilter(f *query.Filter) (string, []any) {
	var bounds []orb.Bound
	switch {
	case f.Within != nil:
		bounds = []orb.Bound{f.Within.Bound()}
	case f.Near != nil:
		bounds = f.Near.BBox().Bounds()
	case f.BBox != nil:
		bounds = f.BBox.Bounds()
	default:
		return "", nil
	}
	var parts []string
	var args []any
	for _, b := range bounds {
		parts = append(parts, `SELECT id FROM rtree_observations_geom WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?`)
		args = append(args, b.Min[0], b.Max[0], b.Min[1], b.Max[1])
	}
	return "o.fid IN (" + strings.Join(parts, " UNION ") + ")", args
}

// Counts reports how many observations the index holds (current,
// deleted, forked) and how many versions.
func (x *Index) Counts() (current, deleted, forked, versions int, err error) {
	err = x.db.QueryRow(`SELECT count(*) FILTER (WHERE deleted = 0), count(*) FILTER (WHERE deleted = 1), count(*) FILTER (WHERE forked = 1), (SELECT count(*) FROM fs_versions) FROM observations`).Scan(&current, &deleted, &forked, &versions)
	return
}
