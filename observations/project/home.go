package project

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/internal/safename"
	"github.com/fieldsync/fieldsync/observations/record"
	"golang.org/x/crypto/blake2b"
)

// Errors.
var (
	ErrNoProject = errors.New("no such project")
	ErrExists    = errors.New("project already exists")
)

// Home is a fieldsync home directory:
//
//	device.key                 the device identity seed, hex, mode 0600
//	default                    the default project's name
//	projects/<name>/project.json   {name, deviceName, created}
//	projects/<name>/project.key    the project key, hex, mode 0600
//	projects/<name>/cores/<key>/   every core of the project (own and others')
type Home struct {
	Dir string
}

// DefaultDir is $FIELDSYNC_HOME, else the platform's place for an
// application's own data:
//
//	Windows  %LocalAppData%\fieldsync (not roaming: cores are large and
//	         belong to this machine)
//	macOS    ~/Library/Application Support/fieldsync
//	others   $XDG_DATA_HOME/fieldsync, else ~/.local/share/fieldsync
func DefaultDir() (string, error) {
	return defaultDir(runtime.GOOS, os.Getenv, os.UserHomeDir)
}

// defaultDir is DefaultDir for the system goos, with the environment and
// the user's home directory passed in so every platform's rule is tested
// on any of them.
func defaultDir(goos string, getenv func(string) string, userHome func() (string, error)) (string, error) {
	if d := getenv("FIELDSYNC_HOME"); d != "" {
		return d, nil
	}
	if goos == "windows" {
		if d := getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "fieldsync"), nil
		}
	}
	if goos != "windows" && goos != "darwin" && goos != "ios" {
		// The XDG spec says a relative value is to be ignored.
		if d := getenv("XDG_DATA_HOME"); d != "" && strings.HasPrefix(d, "/") {
			return filepath.Join(d, "fieldsync"), nil
		}
	}
	h, err := userHome()
	if err != nil || h == "" {
		return "", fmt.Errorf("no home directory to keep fieldsync's data in (set FIELDSYNC_HOME): %w", err)
	}
	switch goos {
	case "windows":
		return filepath.Join(h, "AppData", "Local", "fieldsync"), nil
	case "darwin", "ios":
		return filepath.Join(h, "Library", "Application Support", "fieldsync"), nil
	}
	return filepath.Join(h, ".local", "share", "fieldsync"), nil
}

// OpenHome opens (creating it, mode 0700) the home in dir.
func OpenHome(dir string) (*Home, error) {
	if err := os.MkdirAll(filepath.Join(dir, "projects"), 0o700); err != nil {
		return nil, fmt.Errorf("fieldsync home %s: %w", dir, err)
	}
	return &Home{Dir: dir}, nil
}

// Identity is the device's Ed25519 identity, created on first use.
func (h *Home) Identity() (ed25519.PrivateKey, error) {
	path := filepath.Join(h.Dir, "device.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, err
		}
		if err := writeAtomic(path, []byte(hex.EncodeToString(seed)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write device key: %w", err)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read device key: %w", err)
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s is damaged (not a 32-byte hex seed)", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// Project is one project in a home.
type Project struct {
	Name       string
	Key        [32]byte
	DeviceName string
	Created    string
	Dir        string
	identity   ed25519.PrivateKey
}

type projectFile struct {
	Name       string `json:"name"`
	DeviceName string `json:"deviceName"`
	Created    string `json:"created"`
}

func (h *Home) projectDir(name string) string { return filepath.Join(h.Dir, "projects", name) }

// Create makes a new project with a random key.
func (h *Home) Create(name, deviceName string) (*Project, error) {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	return h.add(name, key, deviceName)
}

// Join adds a project known by its key (from an invitation code).
func (h *Home) Join(name string, key [32]byte, deviceName string) (*Project, error) {
	return h.add(name, key, deviceName)
}

// add writes the project directory in a hidden sibling, creates this
// device's cores with its device record, and renames it into place: a
// failure leaves nothing.
func (h *Home) add(name string, key [32]byte, deviceName string) (*Project, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	// The name is the project's folder: a new one must be a folder name
	// every system accepts, so the project can be joined from Windows too.
	if err := safename.Check(name); err != nil {
		return nil, fmt.Errorf("project name: %w: %w", err, ErrBadName)
	}
	if deviceName == "" {
		deviceName, _ = os.Hostname()
	}
	for _, other := range h.mustList() {
		if p, err := h.Open(other); err == nil && p.Key == key {
			return nil, fmt.Errorf("this device already has that project, as %q: %w", other, ErrExists)
		}
	}
	dir := h.projectDir(name)
	if _, err := os.Stat(dir); err == nil {
		return nil, fmt.Errorf("project %q: %w (pick another name)", name, ErrExists)
	}
	id, err := h.Identity()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Join(h.Dir, "projects"), "."+name+".creating-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	p := &Project{Name: name, Key: key, DeviceName: deviceName, Created: time.Now().UTC().Format(time.RFC3339), Dir: tmp, identity: id}
	pf, _ := json.MarshalIndent(projectFile{Name: name, DeviceName: deviceName, Created: p.Created}, "", "  ")
	if err := writeAtomic(filepath.Join(tmp, "project.json"), append(pf, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(tmp, "project.key"), []byte(hex.EncodeToString(key[:])+"\n"), 0o600); err != nil {
		return nil, err
	}
	data, err := p.createOwnCore(record.KindData)
	if err != nil {
		return nil, err
	}
	defer data.Close()
	media, err := p.createOwnCore(record.KindMedia)
	if err != nil {
		return nil, err
	}
	media.Close()
	rec, err := record.NewDevice(deviceName, id, data.Key(), media.Key())
	if err != nil {
		return nil, err
	}
	block, err := rec.Encode()
	if err != nil {
		return nil, err
	}
	if _, err := data.Append(block); err != nil {
		return nil, fmt.Errorf("write the device record: %w", err)
	}
	data.Close()
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("project %q: %w", name, err)
	}
	p.Dir = dir
	if d, _ := h.Default(); d == "" {
		if err := h.SetDefault(name); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *Project) createOwnCore(kind record.CoreKind) (*hypercore.Core, error) {
	seed := p.CoreSeed(kind)
	kp, err := hypercore.KeyPairFromSeed(seed)
	if err != nil {
		return nil, err
	}
	key := hypercore.KeyFor(hypercore.DefaultManifest(kp.Public), false)
	c, err := hypercore.Create(p.coreDir(key), hypercore.CreateOptions{Seed: seed, Durability: hypercore.DurabilityFsync})
	if err != nil {
		return nil, fmt.Errorf("create the %s core: %w", kind, err)
	}
	return c, nil
}

func (p *Project) coreDir(key [32]byte) string {
	return filepath.Join(p.Dir, "cores", hex.EncodeToString(key[:]))
}

// CoreSeed is the signing seed of this device's core of kind in this
// project: BLAKE2b-256 keyed with the device secret, over a domain tag,
// the project key and the kind's name ("data", "media"). Only this device can derive it; it is the
// same every time, so a lost secret file cannot fork a device's cores.
func (p *Project) CoreSeed(kind record.CoreKind) []byte {
	h, _ := blake2b.New256(p.identity.Seed())
	h.Write([]byte("fieldsync core seed v1\x00"))
	h.Write(p.Key[:])
	h.Write([]byte(kind.String()))
	return h.Sum(nil)
}

// OwnCoreKey is the key of this device's core of kind.
func (p *Project) OwnCoreKey(kind record.CoreKind) [32]byte {
	kp, _ := hypercore.KeyPairFromSeed(p.CoreSeed(kind))
	return hypercore.KeyFor(hypercore.DefaultManifest(kp.Public), false)
}

// OpenOwnCore opens this device's core of kind, writable.
func (p *Project) OpenOwnCore(kind record.CoreKind, dur hypercore.Durability) (*hypercore.Core, error) {
	return hypercore.Open(p.coreDir(p.OwnCoreKey(kind)), hypercore.OpenOptions{Durability: dur})
}

// DiscoveryKey is the project's public topic: BLAKE2b-256 keyed with the
// project key over a domain tag. It reveals neither the key nor the data.
func (p *Project) DiscoveryKey() [32]byte {
	h, _ := blake2b.New256(p.Key[:])
	h.Write([]byte("fieldsync project discovery v1"))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// CoreKeys lists the keys of every core stored in the project.
func (p *Project) CoreKeys() ([][32]byte, error) {
	entries, err := os.ReadDir(filepath.Join(p.Dir, "cores"))
	if err != nil {
		return nil, err
	}
	var keys [][32]byte
	for _, e := range entries {
		b, err := hex.DecodeString(e.Name())
		if err != nil || len(b) != 32 || !e.IsDir() {
			continue
		}
		keys = append(keys, [32]byte(b))
	}
	return keys, nil
}

// Open opens an existing project.
func (h *Home) Open(name string) (*Project, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	dir := h.projectDir(name)
	b, err := os.ReadFile(filepath.Join(dir, "project.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("project %q (in %s): %w", name, h.Dir, ErrNoProject)
	}
	if err != nil {
		return nil, err
	}
	var pf projectFile
	if err := json.Unmarshal(b, &pf); err != nil {
		return nil, fmt.Errorf("%s is damaged: %v", filepath.Join(dir, "project.json"), err)
	}
	kb, err := os.ReadFile(filepath.Join(dir, "project.key"))
	if err != nil {
		return nil, fmt.Errorf("project %q: read its key: %w", name, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(kb)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("project %q: project.key is damaged", name)
	}
	id, err := h.Identity()
	if err != nil {
		return nil, err
	}
	return &Project{Name: pf.Name, Key: [32]byte(key), DeviceName: pf.DeviceName, Created: pf.Created, Dir: dir, identity: id}, nil
}

// Projects lists the projects of the home, sorted.
func (h *Home) Projects() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(h.Dir, "projects"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			if _, err := os.Stat(filepath.Join(h.Dir, "projects", e.Name(), "project.json")); err == nil {
				names = append(names, e.Name())
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

func (h *Home) mustList() []string {
	names, _ := h.Projects()
	return names
}

// Default is the default project's name ("" if none).
func (h *Home) Default() (string, error) {
	b, err := os.ReadFile(filepath.Join(h.Dir, "default"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return strings.TrimSpace(string(b)), err
}

// SetDefault makes name the default project.
func (h *Home) SetDefault(name string) error {
	return writeAtomic(filepath.Join(h.Dir, "default"), []byte(name+"\n"), 0o644)
}

// writeAtomic writes a file through a temporary one and a rename, synced.
func writeAtomic(path string, b []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// CoreDirs maps every core of the project to its directory.
func (p *Project) CoreDirs() (map[[32]byte]string, error) {
	keys, err := p.CoreKeys()
	if err != nil {
		return nil, err
	}
	out := make(map[[32]byte]string, len(keys))
	for _, k := range keys {
		out[k] = p.coreDir(k)
	}
	return out, nil
}

// IndexPath is where the project's index lives.
func (p *Project) IndexPath() string { return filepath.Join(p.Dir, "index.gpkg") }

// CoreDir is where the project keeps the core with key (a replica is
// created there when first downloaded).
func (p *Project) CoreDir(key [32]byte) string { return p.coreDir(key) }
