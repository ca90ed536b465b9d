package record

// CoreKind is what one of a device's cores holds. The device record names
// both (Device.Data and Device.Media); projectsync sends the kind with every
// core it announces, as one byte.
type CoreKind uint8

// The kinds of core. A core no device record names is KindUnknown.
const (
	KindData    CoreKind = 0    // observation versions and device records
	KindMedia   CoreKind = 1    // attachment bytes
	KindUnknown CoreKind = 0xff // not (yet) named by any device record here
)

// String is the kind's name: "data", "media" or "unknown". A device's own
// core keys derive from these names (project.CoreSeed): never change them.
func (k CoreKind) String() string {
	switch k {
	case KindData:
		return "data"
	case KindMedia:
		return "media"
	}
	return "unknown"
}

// MarshalText writes the kind's name (JSON reports show "data", "media").
func (k CoreKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name; any other name is KindUnknown.
func (k *CoreKind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "data":
		*k = KindData
	case "media":
		*k = KindMedia
	default:
		*k = KindUnknown
	}
	return nil
}
