package index

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
	_ "github.com/mattn/go-sqlite3" // the SQLite driver (cgo), as DESIGN.md names it
	"github.com/paulmach/orb"
)

// ErrRebuild: a core no longer extends what was indexed (its writer
// truncated it); the index must be rebuilt.
var ErrRebuild = errors.New("index out of step with the cores: run `fieldsync reindex`")

// Index is an open index.gpkg.
type Index struct {
	db    *sql.DB
	path  string
	chunk uint64 // blocks per chunk in Update (chunkBlocks; tests make it small)
}

// Open opens (creating it if needed) the index at path, in WAL mode so
// that other processes can read while it is updated.
func Open(path string) (*Index, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000&_txlock=immediate&_foreign_keys=on")
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	return &Index{db: db, path: path, chunk: chunkBlocks}, nil
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

// stmts are the statements of one Update, prepared once, and what it
// learns as it goes.
type stmts struct {
	tx                           *sql.Tx
	upsertObs, delRtree, setCore *sql.Stmt
	authors                      map[string]string // core key hex → device name
	nextFid                      int64             // for observations new to the index
}

func prepare(tx *sql.Tx) (*stmts, error) {
	s := stmts{tx: tx, authors: map[string]string{}}
	var err error
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&s.upsertObs, `INSERT INTO observations(geom, id, version, author, created, updated, deleted, forked, tags, record)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(id) DO UPDATE SET geom = excluded.geom, version = excluded.version, author = excluded.author,
			  created = excluded.created, updated = excluded.updated, deleted = excluded.deleted, forked = excluded.forked,
			  tags = excluded.tags, record = excluded.record
			RETURNING fid`},
		{&s.delRtree, `DELETE FROM rtree_observations_geom WHERE id = ?`},
		{&s.setCore, `INSERT INTO fs_cores(key, indexed, author) VALUES (?, ?, ?)
			ON CONFLICT(key) DO UPDATE SET indexed = excluded.indexed, author = excluded.author`},
	} {
		if *p.dst, err = tx.Prepare(p.q); err != nil {
			return nil, err
		}
	}
	if err := tx.QueryRow(`SELECT coalesce(max(fid), 0) + 1 FROM observations`).Scan(&s.nextFid); err != nil {
		return nil, err
	}
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

// chunkBlocks is how many blocks Update reads, decodes and writes at a
// time: memory stays bounded whatever the length of a core.
const chunkBlocks = 8192

// coreToIndex is a core and where its indexing stopped.
type coreToIndex struct {
	key     [32]byte
	hex     string
	dir     string
	indexed uint64
	media   bool // a device's media core: attachment bytes, no records
}

// chunk is blocks [start, end) of one core, read and decoded, with the
// observations they hold resolved from these versions alone.
type chunk struct {
	core       string // key hex
	start, end uint64
	last       bool     // the core's last chunk: its progress is recorded
	devices    []string // names from its device records, in order
	versions   []newVersion
	ids        []string // observations with versions here, sorted
	byID       map[string][]record.Version
	rows       map[string]*row // each id's row from these versions alone
	err        error
}

// newVersion is a version read in this update.
type newVersion struct {
	id  record.VersionID
	obs *record.Observation
	raw []byte
}

// Update indexes the blocks added to the cores (key → directory) since the
// last update, in one transaction: a failure leaves the index as it was.
// Blocks are read, decoded and resolved a chunk at a time on other CPUs
// while the chunk before is written with multi-row statements; an
// observation whose versions span chunks is recomputed once per chunk,
// from every version stored. Cancelling ctx stops it within a chunk and
// leaves the index as it was.
func (x *Index) Update(ctx context.Context, cores map[[32]byte]string) (Stats, error) {
	var st Stats
	// A first build (nothing indexed yet) writes every page once with a
	// rollback journal instead of twice through the WAL (WAL then
	// checkpoint): a third of the time for a million observations. WAL
	// comes back when it is done, for readers in other processes. If
	// another connection has the file open the switch is refused and the
	// build goes through the WAL as any update.
	var indexed int
	if err := x.db.QueryRow(`SELECT count(*) FROM fs_cores`).Scan(&indexed); err != nil {
		return st, err
	}
	if indexed == 0 {
		var mode string
		if err := x.db.QueryRow(`PRAGMA journal_mode = DELETE`).Scan(&mode); err == nil && mode == "delete" {
			defer x.db.Exec(`PRAGMA journal_mode = WAL`)
		}
	}
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return st, err
	}
	// Queries on this connection afterwards (a streaming export of every
	// row) need no big cache: back to SQLite's default (2 MB) once the
	// transaction is over (deferred first: it runs after the Rollback).
	defer x.db.Exec(`PRAGMA cache_size = -2000`)
	defer tx.Rollback()
	// Indexing a million observations inserts at random places in the
	// id indexes: a page cache that holds them keeps that off the disk.
	if _, err := tx.Exec(`PRAGMA cache_size = -65536`); err != nil {
		return st, err
	}

	ps, err := prepare(tx)
	if err != nil {
		return st, err
	}
	var todo []coreToIndex
	for key, dir := range cores {
		k := hex.EncodeToString(key[:])
		cs := coreToIndex{key: key, hex: k, dir: dir}
		err := tx.QueryRow(`SELECT indexed FROM fs_cores WHERE key = ?`, k).Scan(&cs.indexed)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return st, err
		}
		todo = append(todo, cs)
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].hex < todo[j].hex })
	// A device's data core starts with its device record: learn every new
	// name before indexing observations, so rows carry their author even
	// when the author's core is indexed after an observation it edited,
	// and which cores hold media (their blocks are never read here).
	for _, cs := range todo {
		d, err := deviceRecord(cs.dir, cs.hex)
		if err != nil {
			return st, err
		}
		if d == nil {
			continue
		}
		if cs.indexed == 0 {
			ps.authors[cs.hex] = d.Name
		}
		for i := range todo {
			if todo[i].hex == d.Media {
				todo[i].media = true
			}
		}
	}
	chunks := make(chan *chunk, 1)
	stop := make(chan struct{})
	go readCores(todo, x.chunk, chunks, stop)
	defer func() {
		close(stop)
		for range chunks { // let the reader finish
		}
	}()
	renamed := map[string]bool{}
	for ch := range chunks {
		if ch.err != nil {
			return st, ch.err
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		st.Blocks += ch.end - ch.start
		for _, d := range ch.devices {
			if ps.authors[ch.core] != d {
				ps.authors[ch.core] = d
				renamed[ch.core] = true
			}
		}
		n, err := ps.addVersions(ch)
		if err != nil {
			return st, err
		}
		st.Versions += uint64(len(ch.versions))
		st.Observations += n
		if ch.last {
			if _, err := ps.setCore.Exec(ch.core, ch.end, ps.authors[ch.core]); err != nil {
				return st, err
			}
		}
	}
	for k := range renamed {
		// Rows indexed earlier under this core's previous name.
		if _, err := tx.Exec(`UPDATE observations SET author = ? WHERE version >= ? AND version < ?`, ps.authors[k], k+"@", k+"A"); err != nil {
			return st, err
		}
	}
	if st.Observations > 0 {
		if _, err := tx.Exec(`UPDATE gpkg_contents SET
			min_x = (SELECT min(minx) FROM rtree_observations_geom), max_x = (SELECT max(maxx) FROM rtree_observations_geom),
			min_y = (SELECT min(miny) FROM rtree_observations_geom), max_y = (SELECT max(maxy) FROM rtree_observations_geom),
			last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = 'observations'`); err != nil {
			return st, err
		}
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	return st, tx.Commit()
}

// readCores reads the new blocks of every core in chunks and sends them,
// then closes out; a failure is sent as a chunk's err. It stops early
// when stop closes.
func readCores(todo []coreToIndex, size uint64, out chan<- *chunk, stop <-chan struct{}) {
	defer close(out)
	send := func(ch *chunk) bool {
		select {
		case out <- ch:
			return true
		case <-stop:
			return false
		}
	}
	for _, cs := range todo {
		c, err := hypercore.Open(cs.dir, hypercore.OpenOptions{ReadOnly: true})
		if err != nil {
			send(&chunk{err: fmt.Errorf("index core %s: %w", cs.hex[:8], err)})
			return
		}
		n := c.Contiguous()
		if n < cs.indexed {
			c.Close()
			send(&chunk{err: fmt.Errorf("core %s holds %d blocks, %d were indexed: %w", cs.hex[:8], n, cs.indexed, ErrRebuild)})
			return
		}
		if cs.media {
			// Attachment bytes: nothing to index, only how far it goes.
			c.Close()
			if !send(&chunk{core: cs.hex, start: n, end: n, last: true, byID: map[string][]record.Version{}, rows: map[string]*row{}}) {
				return
			}
			continue
		}
		start := cs.indexed
		for {
			end := min(start+size, n)
			ch, err := readChunk(c, cs, start, end)
			if err != nil {
				c.Close()
				send(&chunk{err: fmt.Errorf("index core %s: %w", cs.hex[:8], err)})
				return
			}
			ch.last = end == n
			if !send(ch) {
				c.Close()
				return
			}
			if ch.last {
				break
			}
			start = end
		}
		c.Close()
	}
}

// deviceRecord reads the device record a data core starts with (nil if
// it does not start with one).
func deviceRecord(dir, hexKey string) (*record.Device, error) {
	c, err := hypercore.Open(dir, hypercore.OpenOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("index core %s: %w", hexKey[:8], err)
	}
	defer c.Close()
	if c.Contiguous() == 0 {
		return nil, nil
	}
	b, err := c.Get(0)
	if err != nil {
		return nil, fmt.Errorf("index core %s block 0: %w", hexKey[:8], err)
	}
	if kind, err := record.Kind(b); err != nil || kind != record.TypeDevice {
		return nil, nil
	}
	d, err := record.DecodeDevice(b)
	if err != nil || d.Data != hexKey {
		return nil, nil
	}
	return d, nil
}

// readChunk reads blocks [start, end) of a core and decodes them on every
// CPU; blocks that are not records this version reads are skipped.
func readChunk(c *hypercore.Core, cs coreToIndex, start, end uint64) (*chunk, error) {
	ch := &chunk{core: cs.hex, start: start, end: end, byID: map[string][]record.Version{}, rows: map[string]*row{}}
	type decoded struct {
		raw    []byte
		obs    *record.Observation
		device *record.Device
	}
	blocks := make([]decoded, end-start)
	for i := range blocks {
		b, err := c.Get(start + uint64(i))
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", start+uint64(i), err)
		}
		blocks[i].raw = b
	}
	parallel(len(blocks), func(i int) {
		b := &blocks[i]
		switch kind, err := record.Kind(b.raw); {
		case err != nil:
		case kind == record.TypeDevice:
			b.device, _ = record.DecodeDevice(b.raw)
		case kind == record.TypeObservation:
			b.obs, _ = record.Decode(b.raw)
		}
	})
	for i, b := range blocks {
		switch {
		case b.device != nil:
			if b.device.Data == cs.hex {
				ch.devices = append(ch.devices, b.device.Name)
			}
		case b.obs != nil:
			v := newVersion{record.NewVersionID(cs.key, start+uint64(i)), b.obs, b.raw}
			ch.versions = append(ch.versions, v)
			if _, ok := ch.byID[v.obs.ID]; !ok {
				ch.ids = append(ch.ids, v.obs.ID)
			}
			ch.byID[v.obs.ID] = append(ch.byID[v.obs.ID], record.Version{ID: v.id, Obs: v.obs})
		}
	}
	sort.Strings(ch.ids)
	rows := make([]*row, len(ch.ids))
	errs := make([]error, len(ch.ids))
	parallel(len(ch.ids), func(i int) { rows[i], errs[i] = currentRow(ch.byID[ch.ids[i]]) })
	for i, id := range ch.ids {
		if errs[i] != nil {
			return nil, fmt.Errorf("observation %s: %w", id, errs[i])
		}
		ch.rows[id] = rows[i]
	}
	return ch, nil
}

// parallel calls fn(0..n-1) on every CPU.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// maxRows per multi-row statement (SQLite allows 32,766 parameters).
const maxRows = 200

// execRows runs "head VALUES (?,..),(?,..)" for rows of cols values each,
// maxRows rows per statement.
func (s *stmts) execRows(head string, cols int, args []any) error {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	var full *sql.Stmt
	for len(args) > 0 {
		rows := min(len(args)/cols, maxRows)
		var err error
		if rows == maxRows {
			if full == nil {
				if full, err = s.tx.Prepare(head + " VALUES " + strings.TrimSuffix(strings.Repeat(one+",", maxRows), ",")); err != nil {
					return err
				}
				defer full.Close()
			}
			_, err = full.Exec(args[:rows*cols]...)
		} else {
			_, err = s.tx.Exec(head+" VALUES "+strings.TrimSuffix(strings.Repeat(one+",", rows), ","), args[:rows*cols]...)
		}
		if err != nil {
			return err
		}
		args = args[rows*cols:]
	}
	return nil
}

// addVersions stores the versions of one chunk and writes the row of every
// observation they belong to: the chunk's own row for an observation new
// to the index, else one recomputed with the versions stored before. It
// returns how many observations it wrote.
func (s *stmts) addVersions(ch *chunk) (int, error) {
	if len(ch.ids) == 0 {
		return 0, nil
	}
	// Versions stored before: only observations that have some are
	// already rows of the observations table.
	old := map[string][]record.Version{}
	for i := 0; i < len(ch.ids); i += maxRows {
		part := ch.ids[i:min(i+maxRows, len(ch.ids))]
		args := make([]any, len(part))
		for j, id := range part {
			args[j] = id
		}
		rows, err := s.tx.Query(`SELECT version, id, record FROM fs_versions WHERE id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(part)), ",")+`)`, args...)
		if err != nil {
			return 0, err
		}
		for rows.Next() {
			var v, id, rec string
			if err := rows.Scan(&v, &id, &rec); err != nil {
				rows.Close()
				return 0, err
			}
			o, err := record.Decode([]byte(rec))
			if err != nil {
				rows.Close()
				return 0, fmt.Errorf("index: stored version %s: %w", v, err)
			}
			old[id] = append(old[id], record.Version{ID: record.VersionID(v), Obs: o})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
	}
	args := make([]any, 0, 3*len(ch.versions))
	for _, v := range ch.versions {
		args = append(args, string(v.id), v.obs.ID, string(v.raw))
	}
	if err := s.execRows(`INSERT INTO fs_versions(version, id, record)`, 3, args); err != nil {
		return 0, err
	}
	type placed struct {
		fid int64
		r   *row
	}
	var obsArgs []any
	var tree []placed
	for _, id := range ch.ids {
		r := ch.rows[id]
		o, known := old[id]
		if known {
			var err error
			if r, err = currentRow(append(o, ch.byID[id]...)); err != nil {
				return 0, fmt.Errorf("observation %s: %w", id, err)
			}
		}
		core, _, _ := strings.Cut(r.version, "@")
		author := s.authors[core]
		var fid int64
		if known {
			if err := s.upsertObs.QueryRow(r.geom, id, r.version, author, r.created, r.updated, r.deleted, r.forked, r.tags, r.record).Scan(&fid); err != nil {
				return 0, err
			}
			if _, err := s.delRtree.Exec(fid); err != nil {
				return 0, err
			}
		} else {
			fid = s.nextFid
			s.nextFid++
			obsArgs = append(obsArgs, fid, r.geom, id, r.version, author, r.created, r.updated, r.deleted, r.forked, r.tags, r.record)
		}
		if r.geom != nil {
			tree = append(tree, placed{fid, r})
		}
	}
	if err := s.execRows(`INSERT INTO observations(fid, geom, id, version, author, created, updated, deleted, forked, tags, record)`, 11, obsArgs); err != nil {
		return 0, err
	}
	// SQLite's R*Tree takes neighbours faster one after the other.
	sort.Slice(tree, func(i, j int) bool { return tree[i].r.bound.Min[0] < tree[j].r.bound.Min[0] })
	treeArgs := make([]any, 0, 5*len(tree))
	for _, t := range tree {
		b := t.r.bound
		treeArgs = append(treeArgs, t.fid, b.Min[0], b.Max[0], b.Min[1], b.Max[1])
	}
	if err := s.execRows(`INSERT INTO rtree_observations_geom`, 5, treeArgs); err != nil {
		return 0, err
	}
	return len(ch.ids), nil
}

// row is the observations row of one observation (but its author, which
// is known when it is written).
type row struct {
	geom                      []byte
	bound                     orb.Bound
	version, created, updated string
	deleted, forked           bool
	tags, record              string
}

// currentRow resolves the versions of one observation into its row.
func currentRow(versions []record.Version) (*row, error) {
	h, err := record.Resolve(versions)
	if err != nil {
		return nil, err
	}
	cur := h.Current.Obs
	rec, err := cur.Encode()
	if err != nil {
		return nil, err
	}
	tags, err := encodeTags(cur.Tags)
	if err != nil {
		return nil, err
	}
	r := &row{version: string(h.Current.ID), created: cur.Created, updated: cur.Updated, deleted: cur.Deleted,
		forked: h.Forked(), tags: tags, record: string(rec)}
	if cur.Geometry != nil && !cur.Geometry.IsZero() {
		if r.geom, err = geo.GeoPackageBinary(cur.Geometry.Orb()); err != nil {
			return nil, err
		}
		r.bound = cur.Geometry.Bound()
	}
	return r, nil
}

// encodeTags is the tags as one JSON object, keys sorted.
func encodeTags(tags map[string]record.Tag) (string, error) {
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
	Raw     []byte              // the current version's block: canonical JSON
	Record  *record.Observation // decoded (nil if the query did not need to; see Observation)
}

// Observation is the decoded record.
func (it *Item) Observation() (*record.Observation, error) {
	if it.Record == nil {
		o, err := record.Decode(it.Raw)
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
	type sortKey struct {
		t  time.Time
		id string
	}
	var out []Item
	var keys []sortKey
	err := x.scan(f, useRtree, "", func(it *Item, created, id string) error {
		out = append(out, *it)
		keys = append(keys, sortKey{record.Time(created), id})
		return nil
	})
	if err != nil {
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

// Each calls fn with every observation that passes f, in the order they
// were indexed, streaming: memory does not grow with their number. The
// Item is reused between calls.
func (x *Index) Each(f *query.Filter, fn func(it *Item) error) error {
	return x.scan(f, true, " ORDER BY o.fid", func(it *Item, _, _ string) error { return fn(it) })
}

// scan calls fn with every row that passes f (prefiltered by the R*Tree
// when useRtree; a point outside the place is refused from its envelope
// before its record is decoded), with its created time and id, in the
// order the SQL suffix asks.
func (x *Index) scan(f *query.Filter, useRtree bool, order string, fn func(it *Item, created, id string) error) error {
	where, args := "", []any(nil)
	if useRtree {
		where, args = prefilter(f)
	}
	q := `SELECT version, author, forked, record, created, id, geom FROM observations o`
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
	rows, err := x.db.Query(q+order, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	decode := !f.OnlyDeleted() // the deleted flag is tested in SQL
	var it Item
	for rows.Next() {
		var created, id string
		var geom []byte
		it = Item{}
		if err := rows.Scan(&it.Version, &it.Author, &it.Forked, &it.Raw, &created, &id, &geom); err != nil {
			return err
		}
		if pt, ok := geo.GeoPackagePoint(geom); ok && f.RejectsPoint(pt) {
			continue
		}
		if decode {
			o, err := it.Observation()
			if err != nil {
				return err
			}
			if !f.Match(o) {
				continue
			}
		}
		if err := fn(&it, created, id); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CoreCount is how many versions one core holds, and how many
// observations have their current version in it.
type CoreCount struct {
	Versions, Current int
}

// CoreCounts maps core keys (hex) to their counts.
func (x *Index) CoreCounts() (map[string]CoreCount, error) {
	out := map[string]CoreCount{}
	for _, q := range []struct {
		sql string
		set func(c *CoreCount, n int)
	}{
		{`SELECT substr(version, 1, 64), count(*) FROM fs_versions GROUP BY 1`, func(c *CoreCount, n int) { c.Versions = n }},
		{`SELECT substr(version, 1, 64), count(*) FROM observations WHERE deleted = 0 GROUP BY 1`, func(c *CoreCount, n int) { c.Current = n }},
	} {
		rows, err := x.db.Query(q.sql)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k string
			var n int
			if err := rows.Scan(&k, &n); err != nil {
				rows.Close()
				return nil, err
			}
			c := out[k]
			q.set(&c, n)
			out[k] = c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Forked lists the observations with concurrent heads (conflicting
// edits), by id.
func (x *Index) Forked() ([]string, error) {
	return x.strings(`SELECT id FROM observations WHERE forked = 1 ORDER BY id`)
}

// strings runs a query of one text column.
func (x *Index) strings(q string) ([]string, error) {
	rows, err := x.db.Query(q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// TagColumn is a tag name with the column type its values fit: REAL
// when every value is a number, BOOLEAN when every value is true or
// false, TEXT otherwise (arrays as JSON text).
type TagColumn struct {
	Name, Type string
}

// TagColumns lists every tag name of the current versions with its type,
// sorted by name.
func (x *Index) TagColumns() ([]TagColumn, error) {
	rows, err := x.db.Query(`SELECT j.key, group_concat(DISTINCT j.type) FROM observations o, json_each(o.tags) j GROUP BY j.key ORDER BY j.key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TagColumn
	for rows.Next() {
		var k, types string
		if err := rows.Scan(&k, &types); err != nil {
			return nil, err
		}
		typ := "TEXT"
		num, boolean := true, true
		for _, t := range strings.Split(types, ",") {
			num = num && (t == "integer" || t == "real")
			boolean = boolean && (t == "true" || t == "false")
		}
		switch {
		case num:
			typ = "REAL"
		case boolean:
			typ = "BOOLEAN"
		}
		out = append(out, TagColumn{k, typ})
	}
	return out, rows.Err()
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
