package web

import (
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/observations"
	"github.com/fieldsync/fieldsync/observations/index"
)

//go:embed static
var static embed.FS

// Limits on what a request may be.
const (
	maxURL         = 8 << 10  // bytes of path and query
	maxHeaderBytes = 16 << 10 // all headers
)

// SyncState is what a running serve knows of its peers, for /api/status.
type SyncState struct {
	Listen  string     `json:"listen"`
	Started string     `json:"started"`
	Updated string     `json:"updated"`
	Peers   []SyncPeer `json:"peers"`
}

// SyncPeer is one connected peer.
type SyncPeer struct {
	Key              string `json:"key"`  // identity key, hex
	Name             string `json:"name"` // its device name, when known
	Behind           int    `json:"coresBehind"`
	BlocksDownloaded uint64 `json:"blocksDownloaded"`
	BlocksUploaded   uint64 `json:"blocksUploaded"`
}

// Config is what the map serves.
type Config struct {
	Project *observations.Project // the façade; its stored parts are read, nothing written
	Index   *index.Index          // kept current by the caller; only read here
	// Identity signs evidence bundles (the device assembling them).
	Identity ed25519.PrivateKey
	// Sync returns the live sync state, or nil when no serve runs.
	Sync func() *SyncState
	// Basemap is an MBTiles file of raster tiles; "" for the built-in
	// world outline.
	Basemap string
	// Password, when set, is required (HTTP basic auth, any user name).
	Password string
	// Loopback: the server listens on loopback only, so a Host header
	// naming anything else (DNS rebinding) is refused.
	Loopback bool
	Log      *slog.Logger
}

// Server is the map's handler.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	tiles   *tileSource
	mu      sync.Mutex
	names   map[[32]byte]*deviceInfo // data core key → device
	byIdent map[string]string        // identity key hex → name
	// The envelopes of the last first view, for the index's versions count.
	envs         []index.Envelope
	envsVersions int64
	envsDeleted  bool
	lastCounts   *indexCounts
}

// New returns the handler; Close it to close the basemap.
func New(cfg Config) (*Server, error) {
	if cfg.Project == nil || cfg.Index == nil {
		return nil, errors.New("web: a project and its index are needed")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), names: map[[32]byte]*deviceInfo{}, byIdent: map[string]string{}}
	if cfg.Basemap != "" {
		t, err := openTiles(cfg.Basemap)
		if err != nil {
			return nil, err
		}
		s.tiles = t
	}
	sub, _ := fs.Sub(static, "static")
	files := http.FileServerFS(sub)
	s.mux.Handle("GET /", files)
	s.mux.HandleFunc("GET /api/observations.geojson", s.observations)
	s.mux.HandleFunc("GET /api/observations/{id}", s.observation)
	s.mux.HandleFunc("GET /api/media/{id}/{name}", s.media)
	s.mux.HandleFunc("GET /api/status", s.status)
	s.mux.HandleFunc("GET /api/export.geojson", s.exportGeoJSON)
	s.mux.HandleFunc("GET /api/export.gpkg", s.exportGeoPackage)
	s.mux.HandleFunc("GET /api/export/evidence.zip", s.exportEvidence)
	s.mux.HandleFunc("GET /api/tiles/{z}/{x}/{y}", s.tile)
	s.mux.HandleFunc("GET /api/basemap", s.basemap)
	return s, nil
}

// Close releases the basemap.
func (s *Server) Close() error {
	if s.tiles != nil {
		return s.tiles.Close()
	}
	return nil
}

// ServeHTTP applies the limits, headers and password, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "this map is read-only: only GET and HEAD are answered")
		return
	}
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		httpError(w, http.StatusRequestEntityTooLarge, "requests to the map carry no body")
		return
	}
	if len(r.URL.RawPath)+len(r.URL.Path)+len(r.URL.RawQuery) > maxURL || len(r.RequestURI) > maxURL {
		httpError(w, http.StatusRequestURITooLong, "the address is too long")
		return
	}
	for _, seg := range strings.Split(r.URL.Path, "/") {
		if seg == ".." || strings.ContainsAny(seg, "\\\x00") {
			httpError(w, http.StatusBadRequest, "paths with .. or backslashes are refused")
			return
		}
	}
	if s.cfg.Loopback && !loopbackHost(r.Host) {
		httpError(w, http.StatusMisdirectedRequest, "this map answers only to a loopback address (127.0.0.1, localhost)")
		return
	}
	if s.cfg.Password != "" {
		_, pw, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(pw), []byte(s.cfg.Password)) != 1 {
			h.Set("WWW-Authenticate", `Basic realm="fieldsync map", charset="UTF-8"`)
			httpError(w, http.StatusUnauthorized, "a password is needed (the one given to fieldsync with --http-password, or the token it printed)")
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsLoopback reports whether a listen address (HOST:PORT) binds loopback
// only; an empty host or 0.0.0.0 binds every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	return loopbackHost(host)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Disposition")
	w.WriteHeader(code)
	fmt.Fprintf(w, "{\"error\":%q}\n", msg)
}

// Serve answers on ln until ctx ends, then shuts down (waiting up to 5 s
// for requests in flight).
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, MaxHeaderBytes: maxHeaderBytes, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-done
	return err
}
