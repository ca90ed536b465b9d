package index

import (
	"bufio"
	"encoding/json"
	"io"
	"strconv"
)

func jsonString(s string) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}

// WriteJSON writes items as one JSON array of {version, forked, record},
// each record embedded as the index stores it: the canonical JSON that
// observation.Encode made (no decoding, no re-validation: listing 10,000
// is mostly copying bytes). What `fieldsync list --format json` prints.
func WriteJSON(w io.Writer, items []Item) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			bw.WriteByte(',')
		}
		v, _ := jsonString(it.Version)
		bw.WriteString(`{"version":`)
		bw.WriteString(v)
		bw.WriteString(`,"forked":`)
		bw.WriteString(strconv.FormatBool(it.Forked))
		bw.WriteString(`,"record":`)
		bw.Write(it.Raw)
		bw.WriteByte('}')
	}
	bw.WriteString("]\n")
	return bw.Flush()
}
