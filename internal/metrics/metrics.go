// Package metrics defines minirtc's Prometheus metrics, all named minirtc_*,
// on a registry of their own (so that tests can run several servers in one
// process). Packages update the collectors they are handed; gauges of room
// state are read from the room manager at scrape time, so they can never
// drift from the truth.
package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Metrics are the collectors the server updates.
type Metrics struct {
	Registry *prometheus.Registry

	Connections prometheus.Gauge       // open signalling WebSocket connections
	Sessions    prometheus.Gauge       // signalling sessions, connected or awaiting resume
	Requests    *prometheus.CounterVec // requests by op
	Errors      *prometheus.CounterVec // error responses by code
	Messages    prometheus.Counter     // room messages sent
	Events      prometheus.Counter     // events written to clients
	Resumes     *prometheus.CounterVec // resume attempts by result (ok, failed)
	Timeouts    prometheus.Counter     // sessions removed for missing pings
}

// CountsFunc reports the room manager's current size.
type CountsFunc func() room.Counts

// New registers every minirtc metric plus the Go runtime and process
// collectors on a new registry.
func New(counts CountsFunc) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "minirtc_connections", Help: "Open signalling WebSocket connections.",
		}),
		Sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "minirtc_sessions", Help: "Signalling sessions, connected or awaiting resume.",
		}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minirtc_requests_total", Help: "Signalling requests received, by operation.",
		}, []string{"op"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minirtc_errors_total", Help: "Error responses sent, by protocol result code.",
		}, []string{"code"}),
		Messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "minirtc_messages_total", Help: "Room messages sent (send_message).",
		}),
		Events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "minirtc_events_sent_total", Help: "Events written to clients.",
		}),
		Resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minirtc_resumes_total", Help: "Session resume attempts, by result.",
		}, []string{"result"}),
		Timeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "minirtc_session_timeouts_total", Help: "Sessions removed because they stopped pinging.",
		}),
	}
	reg.MustRegister(m.Connections, m.Sessions, m.Requests, m.Errors, m.Messages, m.Events, m.Resumes, m.Timeouts,
		&roomCollector{counts: counts},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Error counts one error response.
func (m *Metrics) Error(c protocol.Code) {
	m.Errors.WithLabelValues(strconv.Itoa(int(c))).Inc()
}

// roomCollector reads the room manager once per scrape.
type roomCollector struct{ counts CountsFunc }

var (
	roomsDesc        = prometheus.NewDesc("minirtc_rooms", "Open rooms.", nil, nil)
	participantsDesc = prometheus.NewDesc("minirtc_participants", "Participants in rooms.", nil, nil)
	streamsDesc      = prometheus.NewDesc("minirtc_streams", "Published streams.", nil, nil)
)

func (c *roomCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- roomsDesc
	ch <- participantsDesc
	ch <- streamsDesc
}

func (c *roomCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.counts()
	ch <- prometheus.MustNewConstMetric(roomsDesc, prometheus.GaugeValue, float64(n.Rooms))
	ch <- prometheus.MustNewConstMetric(participantsDesc, prometheus.GaugeValue, float64(n.Participants))
	ch <- prometheus.MustNewConstMetric(streamsDesc, prometheus.GaugeValue, float64(n.Streams))
}
