package export

import (
	"io"
	"strings"

	"github.com/fieldsync/fieldsync/observations/record"
)

// render writes what a reader of a bundle sees — observations.geojson and
// report.html — from the selected current versions, in bundle order (logs
// by core key, blocks by index). The exporter writes its output; Verify
// runs it again over the same signed blocks and compares byte for byte.
type render struct {
	geo     io.Writer
	n       int
	report  *reportBuilder
	media   map[string]string // sha256 → file name, for the first attachment with those bytes
	present func(a record.Attachment, name string) (bool, error)
	missing []MissingAttachment
	missed  map[string]bool // sha256 of attachments found missing
}

const geoHead, geoTail = `{"type":"FeatureCollection","features":[`, "\n]}\n"

func newRender(geo io.Writer, rb *reportBuilder, present func(record.Attachment, string) (bool, error)) (*render, error) {
	if _, err := io.WriteString(geo, geoHead); err != nil {
		return nil, err
	}
	return &render{geo: geo, report: rb, media: map[string]string{}, present: present, missed: map[string]bool{}}, nil
}

// add renders one record; files lists its attachments' file names in the
// bundle ("" for one that is missing). The feature's bytes are returned.
func (r *render) add(rec *Record) (feature []byte, files []string, err error) {
	for _, a := range rec.Obs.Attachments {
		name, seen := r.media[a.SHA256]
		if !seen {
			name = mediaName(a)
			r.media[a.SHA256] = name
			ok, err := r.present(a, name)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				r.missed[a.SHA256] = true
			}
		}
		if r.missed[a.SHA256] {
			r.missing = append(r.missing, MissingAttachment{Observation: rec.Obs.ID, Name: a.Name, SHA256: a.SHA256, Size: a.Size, Type: a.Type})
			name = ""
		}
		files = append(files, name)
	}
	f, err := Feature(rec)
	if err != nil {
		return nil, nil, err
	}
	sep := ",\n"
	if r.n == 0 {
		sep = "\n"
	}
	if _, err := io.WriteString(r.geo, sep); err != nil {
		return nil, nil, err
	}
	if _, err := r.geo.Write(f); err != nil {
		return nil, nil, err
	}
	r.n++
	r.report.add(rec, files)
	return f, files, nil
}

// close ends observations.geojson.
func (r *render) close() error {
	_, err := io.WriteString(r.geo, geoTail)
	return err
}

// attachments is how many distinct attachment files the bundle holds.
func (r *render) attachments() int { return len(r.media) - len(r.missed) }

// isImage: the report shows a thumbnail.
func isImage(a record.Attachment) bool { return strings.HasPrefix(a.Type, "image/") }
