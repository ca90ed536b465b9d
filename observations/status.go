package observations

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"

	"github.com/fieldsync/fieldsync/observations/record"
)

// Status is the project as this device holds it.
type Status struct {
	Home         string       `json:"home"`
	Project      string       `json:"project"`
	Default      bool         `json:"default"` // the home's default project
	DiscoveryKey string       `json:"discoveryKey"`
	Device       DeviceStatus `json:"device"`
	Cores        []CoreStatus `json:"cores"`
	Observations Counts       `json:"observations"`
	Serve        *ServeState  `json:"serve,omitempty"` // a Serve running on the project
}

// DeviceStatus is this device as teammates see it.
type DeviceStatus struct {
	Name     string `json:"name"`
	Identity string `json:"identity"`
}

// CoreStatus is one core held.
type CoreStatus struct {
	Key        string `json:"key"`
	Own        string `json:"own,omitempty"` // "data" or "media" for this device's cores
	Length     uint64 `json:"length"`
	Contiguous uint64 `json:"contiguous"`
	ByteLength uint64 `json:"byteLength"`
}

// Status reports the project, this device, the cores held, the
// observations (the index brought up to date first) and a running Serve.
func (p *Project) Status(ctx context.Context) (*Status, error) {
	id, err := p.Identity()
	if err != nil {
		return nil, err
	}
	def, _ := p.Home.Default()
	dk := p.DiscoveryKey()
	st := &Status{
		Home: p.Home.Dir, Project: p.Name, Default: def == p.Name, DiscoveryKey: hex.EncodeToString(dk[:]),
		Device: DeviceStatus{Name: p.DeviceName, Identity: hex.EncodeToString(id.Public().(ed25519.PublicKey))},
		Cores:  []CoreStatus{},
	}
	own := map[[32]byte]record.CoreKind{p.OwnCoreKey(record.KindData): record.KindData, p.OwnCoreKey(record.KindMedia): record.KindMedia}
	keys, err := p.CoreKeys()
	if err != nil {
		return nil, err
	}
	r := p.NewReader()
	defer r.Close()
	for _, k := range keys {
		c, err := r.Core(k)
		if err != nil {
			return nil, fmt.Errorf("core %x: %w", k[:4], err)
		}
		hd := c.Head()
		cs := CoreStatus{Key: hex.EncodeToString(k[:]), Length: hd.Length, Contiguous: c.Contiguous(), ByteLength: hd.ByteLength}
		if kind, ok := own[k]; ok {
			cs.Own = kind.String()
		}
		st.Cores = append(st.Cores, cs)
	}
	x, err := p.OpenIndex(ctx)
	if err != nil {
		return nil, err
	}
	st.Observations, err = counts(x)
	x.Close()
	if err != nil {
		return nil, err
	}
	if s, ok := p.RunningServe(); ok {
		st.Serve = s
	}
	return st, nil
}
