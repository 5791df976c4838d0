//go:build !race

package postqueue

const raceEnabled = false
