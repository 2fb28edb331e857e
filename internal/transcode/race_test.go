//go:build race

package transcode

// raceEnabled: the race detector's shadow memory grows with every
// allocation, which hides what TestNoCMemoryLeak looks for.
const raceEnabled = true
