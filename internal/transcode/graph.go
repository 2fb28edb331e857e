package transcode

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/asticode/go-astiav"
)

// graph is an FFmpeg filter graph that turns decoded audio of one format
// into frames the encoder takes: resampled to 48 kHz, converted to the
// encoder's sample format and channel layout, and cut into frames of exactly
// the encoder's frame size (decoders and encoders disagree on frame sizes:
// AAC has 1024 samples at the input rate, Opus 2.5 to 120 ms).
//
// A filter graph and not libswresample directly because go-astiav v0.16.0
// has no bindings for libswresample or for av_audio_fifo, and the graph
// does resampling (aresample is libswresample) and regrouping (asetnsamples)
// in one place without a line of our own C.
type graph struct {
	g      *astiav.FilterGraph
	src    *astiav.FilterContext
	sink   *astiav.FilterContext
	format astiav.SampleFormat
	rate   int
	layout astiav.ChannelLayout
	// samples fed so far at the input rate: the pts of the next frame, so
	// the graph sees a gapless stream (our timeline handles gaps).
	samples int64
}

// outFormat describes what the encoder wants.
type outFormat struct {
	format    astiav.SampleFormat
	layout    string // "mono" or "stereo"
	frameSize int
}

// newGraph builds a graph for decoded frames like f.
func newGraph(f *astiav.Frame, out outFormat) (_ *graph, err error) {
	gr := &graph{format: f.SampleFormat(), rate: f.SampleRate(), layout: f.ChannelLayout()}
	// Only the layouts a mono or stereo config decodes to: anything else
	// comes from a broken frame, and abuffer cannot be told every layout
	// by name anyway.
	var layout string
	switch {
	case gr.layout.Equal(astiav.ChannelLayoutMono):
		layout = "mono"
	case gr.layout.Equal(astiav.ChannelLayoutStereo):
		layout = "stereo"
	default:
		return nil, fmt.Errorf("%w: decoded audio has channel layout %q, want mono or stereo", ErrBadFrame, gr.layout.String())
	}
	if gr.rate < 8000 || gr.rate > 96000 {
		return nil, fmt.Errorf("%w: decoded audio at %d Hz", ErrBadFrame, gr.rate)
	}
	if gr.g = astiav.AllocFilterGraph(); gr.g == nil {
		return nil, errors.New("transcode: allocating filter graph failed")
	}
	defer func() {
		if err != nil {
			gr.free()
		}
	}()
	// One thread: the default is a thread pool per graph, as many threads as
	// cores, which for a few hundred samples at a time is pure overhead and,
	// with many streams, thousands of idle threads.
	gr.g.SetThreadCount(1)

	if gr.src, err = gr.g.NewFilterContext(astiav.FindFilterByName("abuffer"), "in", astiav.FilterArgs{
		"sample_fmt":     gr.format.Name(),
		"sample_rate":    strconv.Itoa(gr.rate),
		"channel_layout": layout,
		"time_base":      "1/" + strconv.Itoa(gr.rate),
	}); err != nil {
		return nil, fmt.Errorf("transcode: creating abuffer: %w", err)
	}
	if gr.sink, err = gr.g.NewFilterContext(astiav.FindFilterByName("abuffersink"), "out", nil); err != nil {
		return nil, fmt.Errorf("transcode: creating abuffersink: %w", err)
	}

	// The inputs/outputs lists name the open ends of the parsed chain from
	// the chain's point of view: its input is our source's output.
	outputs, inputs := astiav.AllocFilterInOut(), astiav.AllocFilterInOut()
	defer outputs.Free()
	defer inputs.Free()
	outputs.SetName("in")
	outputs.SetFilterContext(gr.src)
	outputs.SetPadIdx(0)
	outputs.SetNext(nil)
	inputs.SetName("out")
	inputs.SetFilterContext(gr.sink)
	inputs.SetPadIdx(0)
	inputs.SetNext(nil)

	// asetnsamples without padding: a short last frame would end the
	// encoder's stream, and we never flush mid-stream anyway.
	chain := fmt.Sprintf("aresample=%d,aformat=sample_fmts=%s:channel_layouts=%s,asetnsamples=n=%d:p=0",
		OutputRate, out.format.Name(), out.layout, out.frameSize)
	if err = gr.g.Parse(chain, inputs, outputs); err != nil {
		return nil, fmt.Errorf("transcode: parsing filter graph %q: %w", chain, err)
	}
	if err = gr.g.Configure(); err != nil {
		return nil, fmt.Errorf("transcode: configuring filter graph: %w", err)
	}
	return gr, nil
}

// fits reports whether decoded frame f can go into this graph as is.
func (gr *graph) fits(f *astiav.Frame) bool {
	return f.SampleFormat() == gr.format && f.SampleRate() == gr.rate &&
		f.ChannelLayout().Equal(gr.layout)
}

// free releases the graph and its filters (avfilter_graph_free frees the
// filter contexts it owns).
func (gr *graph) free() {
	if gr != nil && gr.g != nil {
		gr.g.Free()
		gr.g = nil
	}
}
