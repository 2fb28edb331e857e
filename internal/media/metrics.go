package media

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports per-stream stats and refusal counts to Prometheus. It
// reads the hub at scrape time, so streams that end disappear from /metrics.
type Collector struct {
	h *Hub

	bitrateIn, bitrateOut, fps, gop, readers, dropped, bytesIn, bytesOut, refused, players *prometheus.Desc
}

// NewCollector makes a Collector for h.
func NewCollector(h *Hub) *Collector {
	l := []string{"app", "room", "stream"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("minirtc_"+name, help, labels, nil)
	}
	return &Collector{
		h:          h,
		bitrateIn:  d("stream_bitrate_in_bps", "Bits per second received from the publisher (last second).", l...),
		bitrateOut: d("stream_bitrate_out_bps", "Bits per second sent to all players (last second).", l...),
		fps:        d("stream_fps", "Video frames per second received (last second).", l...),
		gop:        d("stream_gop_frames", "Video frames in the last complete group of pictures.", l...),
		readers:    d("stream_players", "Players of the stream, per protocol.", append(l, "protocol")...),
		dropped:    d("stream_dropped_frames_total", "Frames slow players skipped.", l...),
		bytesIn:    d("stream_received_bytes_total", "Payload bytes received from publishers.", l...),
		bytesOut:   d("stream_sent_bytes_total", "Bytes sent to players.", l...),
		refused:    d("media_refused_total", "Pushes and plays refused, per reason.", "reason"),
		players:    d("media_players", "Players on the whole server."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.bitrateIn, c.bitrateOut, c.fps, c.gop, c.readers, c.dropped, c.bytesIn, c.bytesOut, c.refused, c.players} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.h.AllStats() {
		l := []string{string(st.Key.App), string(st.Key.Room), string(st.Key.Stream)}
		ch <- prometheus.MustNewConstMetric(c.bitrateIn, prometheus.GaugeValue, float64(st.BitrateIn), l...)
		ch <- prometheus.MustNewConstMetric(c.bitrateOut, prometheus.GaugeValue, float64(st.BitrateOut), l...)
		ch <- prometheus.MustNewConstMetric(c.fps, prometheus.GaugeValue, st.FPS, l...)
		ch <- prometheus.MustNewConstMetric(c.gop, prometheus.GaugeValue, float64(st.GOPFrames), l...)
		for _, p := range []Protocol{RTMP, FLV, WebRTC} {
			ch <- prometheus.MustNewConstMetric(c.readers, prometheus.GaugeValue, float64(st.Readers[p]), append(l, string(p))...)
		}
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.Dropped), l...)
		ch <- prometheus.MustNewConstMetric(c.bytesIn, prometheus.CounterValue, float64(st.BytesIn), l...)
		ch <- prometheus.MustNewConstMetric(c.bytesOut, prometheus.CounterValue, float64(st.BytesOut), l...)
	}
	for reason, n := range c.h.refusals() {
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(n), string(reason))
	}
	c.h.mu.Lock()
	n := c.h.readers
	c.h.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(c.players, prometheus.GaugeValue, float64(n))
}
