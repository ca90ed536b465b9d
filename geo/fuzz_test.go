package geo

import (
	"testing"
)

// FuzzParse: any input either fails with ErrInvalid or gives a geometry
// whose canonical encoding parses back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"type":"Point","coordinates":[1,2,3]}`,
		`{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]],[[0.2,0.2],[0.4,0.2],[0.3,0.3],[0.2,0.2]]]}`,
		`{"type":"MultiLineString","coordinates":[[[0,0],[1,1]]]}`,
		`{"type":"Point","coordinates":[1e308,1]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(b)
		if err != nil {
			return
		}
		enc, _ := g.MarshalJSON()
		again, err := Parse(enc)
		if err != nil {
			t.Fatalf("canonical %s does not parse: %v", enc, err)
		}
		if enc2, _ := again.MarshalJSON(); string(enc2) != string(enc) {
			t.Fatalf("canonical form unstable: %s → %s", enc, enc2)
		}
	})
}
