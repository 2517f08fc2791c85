//go:build race

package bridge

// raceEnabled: the race detector slows the fan-out tests several times; they
// scale their volumes down under it.
const raceEnabled = true
