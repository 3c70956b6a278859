#!/usr/bin/python3
"""One 1080p I420 stream through a classifying element, as fast as it goes: frames per second and
CPU time per frame, for the element against its peers (families/onnxinference.py).

    element-peers.py --element source|convnextclassify|onnxinference --model M [--frames N]
        [--warmup W] [--threads T] [--precision f32|bf16] [--onnx-offset O --onnx-scale S]

The stream: videotestsrc pattern=smpte, 1920x1080 I420 at 30/1, not live, into
  source:            fakesink (the source's own cost, to subtract)
  convnextclassify:  convnextclassify model=M threads=T precision=P ! fakesink
  onnxinference:     videoconvertscale ! RGB 224x224 ! onnxinference model-file=M
                     input-image-format=chw optimization-level=enable-all
                     input-tensor-offset=O input-tensor-scale=S ! fakesink
fakesink sync=false, so the pipeline runs at the element's speed.  After W frames, the next N
are timed at the sink (a pad probe): fps = N / (wall time between the W-th and the last frame);
CPU ms per frame = the process's user + system time (every thread: the elements' workers too)
over the same frames / N.  Prints one JSON line.  Runs with Debian's python3 and PyGObject
(GStreamer 1.22 on Debian 12 has no onnxinference; 1.26 on Debian 13 has it in gst-plugins-bad).
"""
import argparse
import json
import resource
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

SOURCE = ("videotestsrc pattern=smpte num-buffers={n} ! "
          "video/x-raw,format=I420,width=1920,height=1080,framerate=30/1")


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--element", choices=["source", "convnextclassify", "onnxinference"],
                    required=True)
    ap.add_argument("--model", help="checkpoint directory, or the .onnx file for onnxinference")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--onnx-offset", type=float, default=0.0)
    ap.add_argument("--onnx-scale", type=float, default=1.0)
    args = ap.parse_args()

    Gst.init(None)
    under_test = {
        "source": "",
        "convnextclassify": (f"convnextclassify model={args.model} threads={args.threads} "
                             f"precision={args.precision} ! "),
        "onnxinference": ("videoconvertscale ! video/x-raw,format=RGB,width=224,height=224 ! "
                          f"onnxinference model-file={args.model} input-image-format=chw "
                          "optimization-level=enable-all "
                          f"input-tensor-offset={args.onnx_offset} "
                          f"input-tensor-scale={args.onnx_scale} ! "),
    }[args.element]
    total = args.warmup + args.frames
    desc = f"{SOURCE.format(n=total)} ! {under_test}fakesink name=sink sync=false"
    pipeline = Gst.parse_launch(desc)
    stamps = []             # (wall, cpu) at each frame reaching the sink

    def on_buffer(pad, info):
        stamps.append((time.monotonic(), cpu_seconds()))
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("sink").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER,
                                                                  on_buffer)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        600 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        why = "no EOS within 600 s" if msg is None else msg.parse_error()[0].message
        print(f"element-peers: {args.element}: {why}", file=sys.stderr)
        return 1
    if len(stamps) != total:
        print(f"element-peers: {len(stamps)} frames reached the sink, expected {total}",
              file=sys.stderr)
        return 1
    (w0, c0), (w1, c1) = stamps[args.warmup - 1], stamps[-1]
    # per-frame wall times in the timed window: the median/min keys of the other runners
    gaps = sorted((b[0] - a[0]) * 1e3 for a, b in zip(stamps[args.warmup - 1:], stamps[args.warmup:]))
    n = len(gaps)
    print(json.dumps({"element": args.element, "gstreamer": Gst.version_string(),
                      "frames": args.frames, "fps": args.frames / (w1 - w0),
                      "cpu_ms_per_frame": (c1 - c0) * 1e3 / args.frames,
                      "median_ms": gaps[n // 2] if n % 2 else 0.5 * (gaps[n // 2 - 1] + gaps[n // 2]),
                      "min_ms": gaps[0], "max_ms": gaps[-1],
                      "mean_ms": (w1 - w0) * 1e3 / args.frames}))
    return 0


if __name__ == "__main__":
    GLib.set_prgname("element-peers")
    sys.exit(main())
