module github.com/fieldsync/fieldsync

go 1.26.0

require (
	filippo.io/edwards25519 v1.2.0
	github.com/flynn/noise v1.1.0
	github.com/grandcat/zeroconf v1.0.0
	github.com/mattn/go-sqlite3 v1.14.53
	github.com/paulmach/orb v0.14.0
	github.com/spf13/cobra v1.10.2
	golang.org/x/crypto v0.59.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/cenkalti/backoff v2.2.1+incompatible // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/miekg/dns v1.1.27 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	golang.org/x/net v0.62.0 // indirect
)
