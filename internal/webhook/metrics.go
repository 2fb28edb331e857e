package webhook

import "github.com/prometheus/client_golang/prometheus"

// Drop reasons of minirtc_webhook_events_dropped_total.
const (
	dropQueueFull = "queue_full" // the in-memory queue was full
	dropStopped   = "stopped"    // observed after Close began
	dropInvalid   = "invalid"    // the store would refuse it (e.g. data too large)
	dropStore     = "store"      // the outbox write kept failing until shutdown
)

type metrics struct {
	observed  prometheus.Counter
	dropped   *prometheus.CounterVec
	stored    prometheus.Counter
	attempts  *prometheus.CounterVec
	givenUp   prometheus.Counter
	duration  prometheus.Histogram
	storeErrs *prometheus.CounterVec
	inFlight  prometheus.GaugeFunc
	queued    prometheus.GaugeFunc
}

func newMetrics(inFlight, queued func() float64) *metrics {
	return &metrics{
		observed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "minirtc_webhook_events_observed_total", Help: "Room events queued in memory for the webhook outbox.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minirtc_webhook_events_dropped_total", Help: "Webhook events lost before reaching the outbox, by reason.",
		}, []string{"reason"}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "minirtc_webhook_events_stored_total", Help: "Webhook events written to the outbox (apps with at least one URL).",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minirtc_webhook_attempts_total", Help: "Webhook delivery attempts, by result (delivered, failed).",
		}, []string{"result"}),
		givenUp: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "minirtc_webhook_deliveries_given_up_total", Help: "Webhook deliveries given up after webhook.max_age.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "minirtc_webhook_attempt_seconds", Help: "Duration of webhook delivery attempts.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
		storeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minirtc_webhook_store_errors_total", Help: "Failed outbox operations, by operation.",
		}, []string{"op"}),
		inFlight: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "minirtc_webhook_in_flight", Help: "Webhook delivery attempts in progress.",
		}, inFlight),
		queued: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "minirtc_webhook_queue_length", Help: "Webhook events in memory, not yet in the outbox.",
		}, queued),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.observed, m.dropped, m.stored, m.attempts, m.givenUp, m.duration, m.storeErrs, m.inFlight, m.queued}
}
