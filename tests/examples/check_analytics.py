#!/usr/bin/python3
"""A Python/GI reader of convnextclassify's GstAnalytics output (GStreamer >= 1.24): on frames from
`videotestsrc pattern=white ! convnextclassify model=tiny-noresize`, every buffer carries one
GstAnalyticsRelationMeta with exactly one GstAnalyticsClsMtd whose top-k labels (quarks) and
levels are the PyTorch reference's (analytics_expected.json, from make_analytics_expected.py).

    check_analytics.py MODEL_DIR      (or --skip: exit 77, for sanitized builds)
"""
import json
import os
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_K = 3
FRAMES = 3
LEVEL_TOL = 1e-5


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def main():
    if sys.argv[1] == "--skip":   # PyGObject's python can't load the plugin's ASan runtime
        print("SKIP: sanitized build")
        return 77
    try:
        gi.require_version("GstAnalytics", "1.0")
        from gi.repository import GstAnalytics
    except (ValueError, ImportError) as error:
        print("SKIP: no GstAnalytics typelib (%s)" % error)
        return 77
    with open(os.path.join(HERE, "analytics_expected.json")) as f:
        expected = json.load(f)
    Gst.init(None)
    pipeline = Gst.parse_launch(
        "videotestsrc num-buffers=%d pattern=%s ! video/x-raw,format=RGB,width=%d,height=%d "
        "! convnextclassify model=%s top-k=%d threads=1 ! appsink name=sink"
        % (FRAMES, expected["pattern"], expected["width"], expected["height"], sys.argv[1], TOP_K))
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    want = expected["top_k"][:TOP_K]
    try:
        for frame in range(FRAMES):
            sample = sink.emit("try-pull-sample", 30 * Gst.SECOND)
            if sample is None:
                fail("frame %d: no sample within 30 s" % frame)
            rmeta = GstAnalytics.buffer_get_analytics_relation_meta(sample.get_buffer())
            if rmeta is None:
                fail("frame %d: no GstAnalyticsRelationMeta" % frame)
            found = []
            for mtd_id in range(GstAnalytics.relation_get_length(rmeta)):
                ok, mtd = rmeta.get_cls_mtd(mtd_id)
                if ok:
                    found.append(mtd)
            if len(found) != 1:
                fail("frame %d: %d GstAnalyticsClsMtd, expected 1" % (frame, len(found)))
            mtd = found[0]
            got = [(GLib.quark_to_string(mtd.get_quark(i)), mtd.get_level(i))
                   for i in range(mtd.get_length())]
            if [g[0] for g in got] != [w["label"] for w in want] or any(
                    abs(g[1] - w["score"]) > LEVEL_TOL for g, w in zip(got, want)):
                fail("frame %d: ClsMtd %r, PyTorch reference %r" % (frame, got, want))
            print("frame %d: %s" % (frame, ", ".join("%s %.6f" % g for g in got)))
    finally:
        pipeline.set_state(Gst.State.NULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
