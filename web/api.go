package web

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/export"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/record"
	"github.com/paulmach/orb"
)

// Clustering: cells of cellPixels on the Web Mercator pixel grid of the
// requested zoom; below unclusteredMax matching observations, or from
// zoom noClusterZoom on, every observation is sent as itself.
const (
	cellPixels     = 64
	unclusteredMax = 1000
	noClusterZoom  = 17
)

func writeJSONResponse(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

// each runs the selection over the index, calling fn with every match.
func (s *Server) each(sel *selection, fn func(it *index.Item, o *record.Observation) error) error {
	return s.cfg.Index.Each(sel.f, func(it *index.Item) error {
		o, err := it.Observation()
		if err != nil {
			return err
		}
		if !sel.match(it, o) {
			return nil
		}
		return fn(it, o)
	})
}

func exportRecord(it *index.Item, o *record.Observation) *export.Record {
	return &export.Record{Version: record.VersionID(it.Version), Author: it.Author, Forked: it.Forked, Obs: o}
}

// observations streams the selection as one FeatureCollection, the
// features export writes; with zoom it clusters them.
func (s *Server) observations(w http.ResponseWriter, r *http.Request) {
	sel, err := parseSelection(r.URL.Query())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if z := r.URL.Query().Get("zoom"); z != "" {
		zoom, err := strconv.Atoi(z)
		if err != nil || zoom < 0 || zoom > 24 {
			httpError(w, http.StatusBadRequest, "zoom must be a whole number from 0 to 24")
			return
		}
		s.clustered(w, sel, zoom)
		return
	}
	w.Header().Set("Content-Type", "application/geo+json")
	if err := s.streamGeoJSON(r.Context(), w, sel); err != nil {
		// Headers are gone; an unfinished document is what the client sees.
		s.cfg.Log.Error("web: observations", "err", err)
	}
}

type cell struct {
	n, forked  int
	sumX, sumY float64
	keep       []int // members kept (indices into the request's kept list): all while the answer may go unclustered, else the first
}

// mercator is the Web Mercator pixel position of lon, lat at zoom.
func mercator(lon, lat float64, zoom int) (float64, float64) {
	scale := 256 * math.Exp2(float64(zoom))
	lat = math.Max(-85.05112878, math.Min(85.05112878, lat))
	x := (lon + 180) / 360 * scale
	s := math.Sin(lat * math.Pi / 180)
	y := (0.5 - math.Log((1+s)/(1-s))/(4*math.Pi)) * scale
	return x, y
}

// grid groups observations into cells of cellPixels at a zoom.
type grid struct {
	zoom  int
	cells map[[2]int64]*cell
	order [][2]int64
	total int
	bound orb.Bound
}

func newGrid(zoom int) *grid {
	return &grid{zoom: zoom, cells: map[[2]int64]*cell{}, bound: orb.Bound{Min: orb.Point{math.Inf(1), math.Inf(1)}, Max: orb.Point{math.Inf(-1), math.Inf(-1)}}}
}

// add counts one observation with bounds b; keep is called (and its
// index stored) when its feature may be sent as itself.
func (g *grid) add(b orb.Bound, forked bool, keep func() (int, error)) error {
	g.bound = g.bound.Union(b)
	c := b.Center()
	px, py := mercator(c[0], c[1], g.zoom)
	key := [2]int64{int64(px / cellPixels), int64(py / cellPixels)}
	ce := g.cells[key]
	if ce == nil {
		ce = &cell{}
		g.cells[key] = ce
		g.order = append(g.order, key)
	}
	g.total++
	ce.n++
	ce.sumX += c[0]
	ce.sumY += c[1]
	if forked {
		ce.forked++
	}
	if ce.n == 1 || !g.clustered() {
		k, err := keep()
		if err != nil {
			return err
		}
		ce.keep = append(ce.keep, k)
	}
	if g.total == unclusteredMax+1 && g.zoom < noClusterZoom {
		for _, c := range g.cells {
			c.keep = c.keep[:1]
		}
	}
	return nil
}

func (g *grid) clustered() bool { return g.total > unclusteredMax && g.zoom < noClusterZoom }

// clustered answers a FeatureCollection with foreign members count (all
// matching), clustered and bbox (of all matching): single observations
// as their features, groups as Points with fieldsync:cluster (how many)
// and fieldsync:forked (how many of them are forked). A selection of
// list's place, time and tag filters decodes every matching record; the
// whole project (the first view) is grouped from the R*Tree's envelopes
// alone, and only the observations sent as themselves are read.
func (s *Server) clustered(w http.ResponseWriter, sel *selection, zoom int) {
	g := newGrid(zoom)
	var features [][]byte
	var err error
	if sel.f.OnlyDeleted() && !sel.extra() {
		var fids []int64
		var envs []index.Envelope
		envs, err = s.envelopes(sel.f.Deleted)
		for i := range envs {
			if err != nil {
				break
			}
			e := &envs[i]
			b := orb.Bound{Min: orb.Point{e.MinX, e.MinY}, Max: orb.Point{e.MaxX, e.MaxY}}
			err = g.add(b, e.Forked, func() (int, error) { fids = append(fids, e.FID); return len(fids) - 1, nil })
		}
		if err == nil {
			// Only the fids still kept are read.
			need := map[int64]int{}
			var wanted []int64
			for _, ce := range g.cells {
				for _, k := range ce.keep {
					need[fids[k]] = k
					wanted = append(wanted, fids[k])
				}
			}
			slices.Sort(wanted)
			features = make([][]byte, len(fids))
			err = s.cfg.Index.ByFID(wanted, func(fid int64, it *index.Item) error {
				o, err := it.Observation()
				if err != nil {
					return err
				}
				f, err := export.Feature(exportRecord(it, o))
				if err != nil {
					return err
				}
				features[need[fid]] = f
				return nil
			})
		}
	} else {
		err = s.each(sel, func(it *index.Item, o *record.Observation) error {
			if o.Geometry == nil || o.Geometry.IsZero() {
				return nil
			}
			return g.add(o.Geometry.Orb().Bound(), it.Forked, func() (int, error) {
				f, err := export.Feature(exportRecord(it, o))
				features = append(features, f)
				return len(features) - 1, err
			})
		})
	}
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	cluster := g.clustered()
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"type":"FeatureCollection","count":%d,"clustered":%t`, g.total, cluster)
	if g.total > 0 {
		fmt.Fprintf(&b, `,"bbox":[%g,%g,%g,%g]`, g.bound.Min[0], g.bound.Min[1], g.bound.Max[0], g.bound.Max[1])
	}
	b.WriteString(`,"features":[`)
	first := true
	sep := func() {
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteByte('\n')
	}
	for _, k := range g.order {
		ce := g.cells[k]
		if !cluster || ce.n == 1 {
			for _, i := range ce.keep {
				if features[i] == nil {
					continue // changed while this answer was made
				}
				sep()
				b.Write(features[i])
			}
			continue
		}
		sep()
		fmt.Fprintf(&b, `{"type":"Feature","geometry":{"type":"Point","coordinates":[%g,%g]},"properties":{"fieldsync:cluster":%d,"fieldsync:forked":%d}}`,
			ce.sumX/float64(ce.n), ce.sumY/float64(ce.n), ce.n, ce.forked)
	}
	b.WriteString("\n]}\n")
	w.Header().Set("Content-Type", "application/geo+json")
	w.Write(b.Bytes())
}

// envelopes are every observation's envelope, kept between requests
// while the index holds the same versions (the counter /api/status
// gives): a first view of 100,000 is grouped without reading the index.
func (s *Server) envelopes(deleted bool) ([]index.Envelope, error) {
	versions, err := s.cfg.Index.Generation()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.envs != nil && s.envsVersions == versions && s.envsDeleted == deleted {
		envs := s.envs
		s.mu.Unlock()
		return envs, nil
	}
	s.mu.Unlock()
	var envs []index.Envelope
	if err := s.cfg.Index.Envelopes(deleted, func(e *index.Envelope) error { envs = append(envs, *e); return nil }); err != nil {
		return nil, err
	}
	if envs == nil {
		envs = []index.Envelope{}
	}
	s.mu.Lock()
	s.envs, s.envsVersions, s.envsDeleted = envs, versions, deleted
	s.mu.Unlock()
	return envs, nil
}

// history is every version of observation id the index holds; it
// answers 404 or 500 itself when there is none.
func (s *Server) history(w http.ResponseWriter, id string) (*record.History, bool) {
	h, err := s.cfg.Index.History(id)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return nil, false
	}
	if h == nil {
		httpError(w, http.StatusNotFound, fmt.Sprintf("no observation %q", id))
		return nil, false
	}
	return h, true
}

// versionJSON is one version of an observation in /api/observations/{id}.
type versionJSON struct {
	Version string              `json:"version"`
	Author  string              `json:"author"` // device name
	Device  string              `json:"device"` // data core key
	Head    bool                `json:"head"`
	Current bool                `json:"current"`
	Record  *record.Observation `json:"record"`
}

func (s *Server) observation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	h, ok := s.history(w, id)
	if !ok {
		return
	}
	heads := map[record.VersionID]bool{}
	for _, v := range h.Heads {
		heads[v.ID] = true
	}
	out := struct {
		ID       string        `json:"id"`
		Current  string        `json:"current"`
		Forked   bool          `json:"forked"`
		Deleted  bool          `json:"deleted"`
		Versions []versionJSON `json:"versions"`
	}{ID: h.ID, Current: string(h.Current.ID), Forked: h.Forked(), Deleted: h.Current.Obs.Deleted}
	for _, v := range h.Versions {
		key, _, _ := v.ID.Parse()
		out.Versions = append(out.Versions, versionJSON{Version: string(v.ID), Author: s.deviceName(key), Device: hex.EncodeToString(key[:]),
			Head: heads[v.ID], Current: v.ID == h.Current.ID, Record: v.Obs})
	}
	// Newest first: what a reader wants to see.
	sort.SliceStable(out.Versions, func(i, j int) bool {
		return record.Time(out.Versions[i].Record.Updated).After(record.Time(out.Versions[j].Record.Updated))
	})
	writeJSONResponse(w, out)
}

// inlineTypes are the attachment types shown in the page; anything else is
// a download, never rendered by the browser.
var inlineTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

func (s *Server) media(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("name")
	h, ok := s.history(w, id)
	if !ok {
		return
	}
	var att *record.Attachment
	for i, a := range h.Current.Obs.Attachments {
		if a.Name == name {
			att = &h.Current.Obs.Attachments[i]
		}
	}
	if att == nil {
		httpError(w, http.StatusNotFound, fmt.Sprintf("observation %q has no attachment %q", id, name))
		return
	}
	rd := s.cfg.Project.NewReader()
	defer rd.Close()
	b, err := rd.Attachment(*att) // checked against its size and SHA-256
	if errors.Is(err, project.ErrMissing) {
		httpError(w, http.StatusNotFound, fmt.Sprintf("attachment %q is not on this device yet: sync with its author", name))
		return
	}
	if err != nil {
		s.cfg.Log.Error("web: media", "id", id, "name", name, "err", err)
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	hd.Set("X-Checked-SHA256", att.SHA256)
	if inlineTypes[att.Type] {
		hd.Set("Content-Type", att.Type)
	} else {
		hd.Set("Content-Type", "application/octet-stream")
		hd.Set("Content-Disposition", "attachment; filename="+strconv.Quote(filepath.Base(name)))
	}
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// deviceInfo is what a data core's first block says of its device.
type deviceInfo struct {
	name, identity string
}

// device reads (once) the device record at the head of core key; nil if
// it is not a data core or not here yet.
func (s *Server) device(key [32]byte) *deviceInfo {
	s.mu.Lock()
	d, ok := s.names[key]
	s.mu.Unlock()
	if ok {
		return d
	}
	rd := s.cfg.Project.NewReader()
	defer rd.Close()
	c, err := rd.Core(key)
	if err != nil || c.Contiguous() == 0 {
		return nil
	}
	b, err := c.Get(0)
	if err != nil {
		return nil
	}
	if kind, err := record.Kind(b); err == nil && kind == record.TypeDevice {
		if dr, err := record.DecodeDevice(b); err == nil && dr.Data == hex.EncodeToString(key[:]) {
			d = &deviceInfo{name: dr.Name, identity: dr.Identity}
		}
	}
	s.mu.Lock()
	s.names[key] = d
	if d != nil {
		s.byIdent[d.identity] = d.name
	}
	s.mu.Unlock()
	return d
}

func (s *Server) deviceName(key [32]byte) string {
	if d := s.device(key); d != nil {
		return d.name
	}
	return "unknown device"
}

// indexCounts are the index's counts at one generation.
type indexCounts struct {
	generation                         int64
	current, deleted, forked, versions int
	cores                              map[string]index.CoreCount
}

// counts are the index's counts, counted again only when its generation
// moved (a page polls /api/status every 2 s; counting reads every row).
func (s *Server) counts() (*indexCounts, error) {
	gen, err := s.cfg.Index.Generation()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	c := s.lastCounts
	s.mu.Unlock()
	if c != nil && c.generation == gen {
		return c, nil
	}
	c = &indexCounts{generation: gen}
	if c.current, c.deleted, c.forked, c.versions, err = s.cfg.Index.Counts(); err != nil {
		return nil, err
	}
	if c.cores, err = s.cfg.Index.CoreCounts(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.lastCounts = c
	s.mu.Unlock()
	return c, nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	c, err := s.counts()
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	counts := c.cores
	keys, err := s.cfg.Project.CoreKeys()
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	type deviceJSON struct {
		Name         string `json:"name"`
		Key          string `json:"key"`
		Identity     string `json:"identity"`
		Versions     int    `json:"versions"`
		Observations int    `json:"observations"` // whose current version it wrote
		This         bool   `json:"thisDevice"`
		Connected    bool   `json:"connected"`
		Behind       int    `json:"coresBehind"`
	}
	var sync *SyncState
	if s.cfg.Sync != nil {
		sync = s.cfg.Sync()
	}
	peers := map[string]SyncPeer{}
	own := s.cfg.Project.OwnCoreKey(record.KindData)
	var devices []deviceJSON
	for _, k := range keys {
		d := s.device(k)
		if d == nil {
			continue
		}
		hk := hex.EncodeToString(k[:])
		devices = append(devices, deviceJSON{Name: d.name, Key: hk, Identity: d.identity, Versions: counts[hk].Versions, Observations: counts[hk].Current, This: k == own})
	}
	if sync != nil {
		s.mu.Lock()
		for i := range sync.Peers {
			if n, ok := s.byIdent[sync.Peers[i].Key]; ok {
				sync.Peers[i].Name = n
			}
			peers[sync.Peers[i].Key] = sync.Peers[i]
		}
		s.mu.Unlock()
		for i := range devices {
			if p, ok := peers[devices[i].Identity]; ok {
				devices[i].Connected, devices[i].Behind = true, p.Behind
			}
		}
	}
	sort.Slice(devices, func(i, j int) bool { return devices[i].Name < devices[j].Name })
	writeJSONResponse(w, map[string]any{
		"project": s.cfg.Project.Name, "device": s.cfg.Project.DeviceName,
		"observations": c.current, "deleted": c.deleted, "forked": c.forked, "versions": c.versions,
		// counter changes whenever the index takes a new version: the page
		// reloads its observations when it does.
		"counter": c.generation, "devices": devices, "sync": sync, "basemap": s.tiles != nil,
	})
}

func (s *Server) download(w http.ResponseWriter, name, typ string) {
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Content-Disposition", "attachment; filename="+strconv.Quote(name))
}

func safeName(project string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == '"' || r < ' ' {
			return '_'
		}
		return r
	}, project)
}

func (s *Server) exportGeoJSON(w http.ResponseWriter, r *http.Request) {
	sel, err := parseSelection(r.URL.Query())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.download(w, safeName(s.cfg.Project.Name)+".geojson", "application/geo+json")
	if err := s.streamGeoJSON(r.Context(), w, sel); err != nil {
		s.cfg.Log.Error("web: export geojson", "err", err)
	}
}

// sendFile sends a finished file and removes it.
func sendFile(w http.ResponseWriter, r *http.Request, path string) {
	f, err := os.Open(path)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	http.ServeContent(w, r, "", st.ModTime(), f)
}

func (s *Server) exportGeoPackage(w http.ResponseWriter, r *http.Request) {
	sel, err := parseSelection(r.URL.Query())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	dir, err := os.MkdirTemp("", "fieldsync-web-")
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer os.RemoveAll(dir)
	cols, err := s.cfg.Index.TagColumns()
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	path := filepath.Join(dir, "export.gpkg")
	gw, err := export.NewGeoPackage(path, cols)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	err = s.each(sel, func(it *index.Item, o *record.Observation) error { return gw.Write(exportRecord(it, o)) })
	if cerr := gw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.download(w, safeName(s.cfg.Project.Name)+".gpkg", "application/geopackage+sqlite3")
	sendFile(w, r, path)
}

func (s *Server) exportEvidence(w http.ResponseWriter, r *http.Request) {
	sel, err := parseSelection(r.URL.Query())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if sel.extra() {
		httpError(w, http.StatusBadRequest, "an evidence bundle is selected with list's filters only (place, time, tags): clear the device and text filters")
		return
	}
	if s.cfg.Identity == nil {
		httpError(w, http.StatusInternalServerError, "this device's identity is not loaded: evidence bundles cannot be signed")
		return
	}
	f, err := os.CreateTemp("", "fieldsync-web-*.zip")
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	es, err := export.SelectionOf(sel.f)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := export.WriteEvidence(r.Context(), f, s.cfg.Project.Project, s.cfg.Identity, export.EvidenceOptions{Selection: es})
	if errors.Is(err, export.ErrMissingAttachments) {
		var missing []string
		for _, m := range res.Missing {
			missing = append(missing, m.Observation+"/"+m.Name)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		json.NewEncoder(w).Encode(map[string]any{"error": "some attachments are not on this device yet: sync with their authors first", "missing": missing})
		return
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.download(w, safeName(s.cfg.Project.Name)+"-evidence.zip", "application/zip")
	sendFile(w, r, f.Name())
}
