package transcode

import (
	"syscall"
	"testing"
	"time"
)

// The benchmarks transcode one continuous 48 kHz mono stream of speech
// (encoders work harder on speech than on a sine), as the hub would for one
// RTMP publisher with a WebRTC subscriber (or the reverse); one op is one
// input frame. They report the cost per second of audio:
//
//	ns/audio-s  wall time to transcode one second of audio
//	%core       CPU time (getrusage: user+system) to transcode one second
//	            of audio, as a share of one core: what one transcoded
//	            stream costs. CPU time, not wall time, because on a shared
//	            machine wall time also counts the time other processes had
//	            the core.
//
// Run pinned to one core: taskset -c 1 go test -run x -bench . -count 5

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportPerAudioSecond(b *testing.B, cpu time.Duration, samples48 int64) {
	seconds := float64(samples48) / OutputRate
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/seconds, "ns/audio-s")
	b.ReportMetric(float64(cpu.Nanoseconds())/seconds/1e9*100, "%core")
}

func BenchmarkAACToOpus(b *testing.B) {
	in := readADTS(b, "speech_48k_mono.aac")
	tr, err := NewAACToOpus(in.asc)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	b.ReportAllocs()
	i, start := 0, cpuTime(b)
	for b.Loop() {
		if _, err := tr.Write(in.frames[i%len(in.frames)], in.pts(0, i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportPerAudioSecond(b, cpuTime(b)-start, int64(i)*1024)
}

func BenchmarkOpusToAAC(b *testing.B) {
	packets := readOgg(b, "speech_mono_20ms.opus")
	tr, err := NewOpusToAAC(1)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	b.ReportAllocs()
	i, start := 0, cpuTime(b)
	for b.Loop() {
		if _, err := tr.Write(packets[i%len(packets)], int64(i)*20); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportPerAudioSecond(b, cpuTime(b)-start, int64(i)*960)
}
