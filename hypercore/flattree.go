package hypercore

import "math/bits"

// Flat-tree arithmetic (spec §1). Blocks and Merkle nodes share one index
// space laid out in-order: block i is the leaf at index 2i, odd indices are
// parents. All functions are pure.

// depth is the number of trailing 1-bits of x; leaves have depth 0.
func depth(x uint64) uint { return uint(bits.TrailingZeros64(^x)) }

// offset is the position of x among the nodes of its depth.
func offset(x uint64) uint64 {
	d := depth(x)
	if d == 0 {
		return x / 2
	}
	return ((x+1)>>d - 1) / 2
}

// flatIndex is the node at depth d and offset o.
func flatIndex(d uint, o uint64) uint64 { return (2*o+1)<<d - 1 }

// parent is the node directly above x.
func parent(x uint64) uint64 {
	d := depth(x)
	return flatIndex(d+1, offset(x)>>1)
}

// sibling is the other child of x's parent.
func sibling(x uint64) uint64 {
	d := depth(x)
	return flatIndex(d, offset(x)^1)
}

// children returns the left and right child of a parent node; ok is false
// for leaves.
func children(x uint64) (left, right uint64, ok bool) {
	d := depth(x)
	if d == 0 {
		return 0, 0, false
	}
	o := offset(x)
	return flatIndex(d-1, 2*o), flatIndex(d-1, 2*o+1), true
}

// leftSpan and rightSpan are the leftmost and rightmost leaf indices under x.
func leftSpan(x uint64) uint64 {
	d := depth(x)
	if d == 0 {
		return x
	}
	return offset(x) << (d + 1)
}

func rightSpan(x uint64) uint64 {
	d := depth(x)
	if d == 0 {
		return x
	}
	return (offset(x)+1)<<(d+1) - 2
}

// countLeaves is the number of blocks under x.
func countLeaves(x uint64) uint64 { return 1 << depth(x) }

// isLeftChild reports whether x is the left child of its parent.
func isLeftChild(x uint64) bool { return offset(x)&1 == 0 }

// fullRoots returns the root indices of a tree of length blocks, left to
// right: one complete subtree per set bit of length, largest first.
func fullRoots(length uint64) []uint64 {
	roots := make([]uint64, 0, bits.OnesCount64(length))
	var before uint64 // blocks before the current piece
	for b := 63; b >= 0; b-- {
		f := uint64(1) << uint(b)
		if length&f == 0 {
			continue
		}
		roots = append(roots, 2*before+f-1)
		before += f
	}
	return roots
}

// nodeInTree reports whether node x is complete in a tree of length blocks:
// a node exists only when its whole span lies below 2*length.
func nodeInTree(x, length uint64) bool { return rightSpan(x) < 2*length }
