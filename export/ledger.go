package export

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
)

// ledger is what the signed logs of a bundle say, read block by block: for
// every observation, each of its versions (where it is, when it was
// written, what it supersedes, whether it passes the selection's filter),
// and for every log the device that signs it and the names it gave itself.
// The exporter and Verify build it with the same code from the same
// blocks, so they select the same observations. It holds a few dozen bytes
// per version, never a record.
type ledger struct {
	filter *query.Filter
	logs   []*ledgerLog
	byKey  map[string]int // core key hex → position in logs
	ids    map[string]int32
	obs    []ledgerObs
}

// ledgerLog is one data core of the bundle.
type ledgerLog struct {
	core     string // hex
	key      [32]byte
	device   *record.Device // block 0
	names    []deviceName   // every device record of this device in the log, in order
	versions int
	selected []selectedBlock // filled by resolve, in block order
	roots    rootBuilder
}

type deviceName struct {
	index uint64
	name  string
}

type vref struct {
	log   int32
	index uint64
}

type ledgerVersion struct {
	ref     vref
	updated time.Time
	links   []vref // only links to versions in the bundle's logs
	match   bool
}

type ledgerObs struct {
	id       string
	versions []ledgerVersion
}

// selectedBlock is a block that is the current version of a selected
// observation.
type selectedBlock struct {
	index    uint64
	obs      int32
	forked   bool
	original vref
	versions int
}

func newLedger(f *query.Filter) *ledger {
	return &ledger{filter: f, byKey: map[string]int{}, ids: map[string]int32{}}
}

// addLog declares the logs in order (by core key) before any block.
func (l *ledger) addLog(key [32]byte) *ledgerLog {
	lg := &ledgerLog{core: fmt.Sprintf("%x", key[:]), key: key}
	l.byKey[lg.core] = len(l.logs)
	l.logs = append(l.logs, lg)
	return lg
}

// block reads block index of log i. Block 0 must be the device record of
// the log's own device; observation records are noted; anything else
// (another record type, a record this version cannot read) is skipped,
// as the index skips it.
func (l *ledger) block(i int, index uint64, b []byte) error {
	lg := l.logs[i]
	lg.roots.add(b)
	kind, kerr := record.Kind(b)
	if index == 0 {
		if kerr != nil || kind != record.TypeDevice {
			return fmt.Errorf("block 0 is not a device record")
		}
		d, err := record.DecodeDevice(b)
		if err != nil {
			return fmt.Errorf("block 0: %v", err)
		}
		if d.Data != lg.core {
			return fmt.Errorf("block 0 is the device record of log %s, not of this one", d.Data)
		}
		lg.device = d
		lg.names = append(lg.names, deviceName{0, d.Name})
		return nil
	}
	if kerr != nil {
		return nil
	}
	switch kind {
	case record.TypeDevice:
		if d, err := record.DecodeDevice(b); err == nil && d.Data == lg.core && d.Identity == lg.device.Identity {
			lg.names = append(lg.names, deviceName{index, d.Name})
		}
	case record.TypeObservation:
		o, err := record.Decode(b)
		if err != nil {
			return nil
		}
		v := ledgerVersion{ref: vref{int32(i), index}, updated: record.Time(o.Updated), match: l.filter.Match(o)}
		for _, link := range o.Links {
			key, idx, err := link.Parse()
			if err != nil {
				continue
			}
			if j, ok := l.byKey[fmt.Sprintf("%x", key[:])]; ok {
				v.links = append(v.links, vref{int32(j), idx})
			}
		}
		n, ok := l.ids[o.ID]
		if !ok {
			n = int32(len(l.obs))
			l.ids[o.ID] = n
			l.obs = append(l.obs, ledgerObs{id: o.ID})
		}
		l.obs[n].versions = append(l.obs[n].versions, v)
		lg.versions++
	}
	return nil
}

// versionID is the version id of a reference.
func (l *ledger) versionID(r vref) record.VersionID {
	return record.VersionID(l.logs[r.log].core + "@" + strconv.FormatUint(r.index, 10))
}

// author is the device name of a version: the name the device last gave
// itself in its log at or before the version's block.
func (l *ledger) author(r vref) string {
	names := l.logs[r.log].names
	i := sort.Search(len(names), func(i int) bool { return names[i].index > r.index })
	if i == 0 {
		return ""
	}
	return names[i-1].name
}

// resolve picks the current version of every observation exactly as
// record.Resolve does (the heads are the versions no other supersedes;
// the current one is the head updated last, then the greatest version
// id), keeps those whose current version passes the filter, and lists
// them per log in block order. It returns how many were selected.
func (l *ledger) resolve() int {
	n := 0
	for oi := range l.obs {
		o := &l.obs[oi]
		if len(o.versions) == 1 {
			if v := o.versions[0]; v.match {
				lg := l.logs[v.ref.log]
				lg.selected = append(lg.selected, selectedBlock{index: v.ref.index, obs: int32(oi), original: v.ref, versions: 1})
				n++
			}
			continue
		}
		superseded := map[vref]bool{}
		for _, v := range o.versions {
			for _, ln := range v.links {
				if ln != v.ref {
					superseded[ln] = true
				}
			}
		}
		var heads []ledgerVersion
		for _, v := range o.versions {
			if !superseded[v.ref] {
				heads = append(heads, v)
			}
		}
		if len(heads) == 0 {
			heads = o.versions
		}
		cur := heads[0]
		for _, h := range heads[1:] {
			if c := h.updated.Compare(cur.updated); c > 0 || c == 0 && strings.Compare(string(l.versionID(h.ref)), string(l.versionID(cur.ref))) > 0 {
				cur = h
			}
		}
		if !cur.match {
			continue
		}
		orig := o.versions[0]
		for _, v := range o.versions[1:] {
			if c := v.updated.Compare(orig.updated); c < 0 || c == 0 && strings.Compare(string(l.versionID(v.ref)), string(l.versionID(orig.ref))) < 0 {
				orig = v
			}
		}
		lg := l.logs[cur.ref.log]
		lg.selected = append(lg.selected, selectedBlock{index: cur.ref.index, obs: int32(oi), forked: len(heads) > 1, original: orig.ref, versions: len(o.versions)})
		n++
	}
	for _, lg := range l.logs {
		sort.Slice(lg.selected, func(i, j int) bool { return lg.selected[i].index < lg.selected[j].index })
	}
	return n
}

// rootBuilder computes the Merkle roots of a log from its blocks, one at a
// time, keeping only the current roots (a binary counter of subtrees).
type rootBuilder struct {
	stack []hypercore.Node
	n     uint64
}

func (r *rootBuilder) add(block []byte) {
	leaf := hypercore.Node{Index: 2 * r.n, Size: uint64(len(block)), Hash: hypercore.LeafHash(block)}
	r.n++
	r.stack = append(r.stack, leaf)
	for len(r.stack) >= 2 {
		a, b := r.stack[len(r.stack)-2], r.stack[len(r.stack)-1]
		if spanLeaves(a.Index) != spanLeaves(b.Index) {
			break
		}
		r.stack = append(r.stack[:len(r.stack)-2], hypercore.ParentNode(a, b))
	}
}

// spanLeaves is the number of blocks under a flat-tree node.
func spanLeaves(x uint64) uint64 {
	n := uint64(1)
	for x&1 == 1 {
		x >>= 1
		n <<= 1
	}
	return n
}

// treeHash is the hash of the tree of the blocks added so far.
func (r *rootBuilder) treeHash() hypercore.Hash { return hypercore.TreeHash(r.stack) }
