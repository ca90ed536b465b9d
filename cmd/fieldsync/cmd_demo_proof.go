package main

import (
	"io"

	"github.com/fieldsync/fieldsync/hypercore"
)

// demoProof is filled in once proofs land.
func demoProof(out io.Writer, c *hypercore.Core) error { return nil }
