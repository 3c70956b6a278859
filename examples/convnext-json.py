#!/usr/bin/python3
"""convnext-json.py: classify a video with convnextclassify and print one JSON line per frame.

The PyGObject twin of convnext-json (C). It reads the classification from the
GstVideoRegionOfInterestMeta that convnextclassify attaches next to its own meta (roi_type
"convnext", param "classification": label, label_id, confidence, model_name for the best class,
and the arrays labels, label_ids, confidences for the whole top-k), in a pad probe on the
classifier's src pad:

    ./convnext-json.py                                 # 100 frames of videotestsrc
    ./convnext-json.py video.mp4 > results.jsonl       # a file (or any URI)
    ./convnext-json.py "v4l2src ! video/x-raw,width=640,height=480"

Each line: {"frame": 0, "pts": 0, "model": "...", "top_k": [{"class_id": 3, "label": "cat",
"score": 0.71}, ...]}; pts in ns (null if none), scores as the shortest decimal of the float
the element computed (so the C and Python programs print the same text). A frame whose ROI
has no classification (no class above the threshold) prints an empty top_k.

Reaching the ROI meta from Python on GStreamer 1.22: Gst.Buffer.get_meta() returns a bare
Gst.Meta that cannot be cast to GstVideo.VideoRegionOfInterestMeta, gst_buffer_iterate_meta()
is not introspectable and foreach_meta()'s meta argument is an (out) parameter. What works is
GstVideo.buffer_get_video_region_of_interest_meta_id(buffer, id), which returns a real
GstVideo.VideoRegionOfInterestMeta whose get_param() gives the Gst.Structure. convnextclassify
leaves the ROI id at its default, 0; an ROI with id 0 added upstream of the classifier (by a
detector, say) would be found first, in which case read convnext-json (C) instead.

With GStreamer >= 1.24 (and its GstAnalytics typelib, gir1.2-gst-plugins-bad-1.0), a frame
without the convnext ROI (results from another element) is read from the first
GstAnalyticsClsMtd of its GstAnalyticsRelationMeta, which convnextclassify writes too: labels
from its quarks, scores from its levels, class_id null (a ClsMtd has no ids), no model.
--analytics reads only that, as any GstAnalytics consumer would.

--objects CLASSES (inference-region=roi-list, SOURCE ending in a detector such as facedetect):
each line gets "objects", as convnext-json prints it:
  "objects":[{"roi_id":0,"box":[x,y,w,h],"source_frame":0,"tracking_id":0,"top_k":[...]}]
The objects come from the element's "convnext-classification" bus message (post-messages=true),
whose "objects" array holds every object of the frame. Not from the metas, because a detector's
ROI metas cannot be iterated from Python on 1.22 (above), and facedetect gives them all id 0; on
>= 1.24 a ROI-only detector such as facedetect leaves no GstAnalyticsODMtd to follow either. The
message is posted on the streaming thread before the buffer leaves the classifier, so a sync
handler stores it and the pad probe of that buffer takes it (matched by pts). The element posts
it on each frame on which objects were classified, which with reclassify-interval=1 (the default)
is every frame that has objects. A frame without objects has no message, so its line has
"objects":[] and (unlike convnext-json's) no model.
"""
import argparse
import json
import os
import signal
import struct
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstVideo  # noqa: E402

try:                          # GStreamer >= 1.24
    gi.require_version("GstAnalytics", "1.0")
    from gi.repository import GstAnalytics  # noqa: E402
except (ValueError, ImportError):
    GstAnalytics = None

ROI_TYPE = "convnext"          # GST_CONVNEXT_ROI_TYPE in gstconvnextmeta.h
ROI_PARAM = "classification"   # GST_CONVNEXT_ROI_PARAM
CONVNEXT_ROI_ID = 0            # convnextclassify does not set an id


def float32_text(value):
    """The shortest decimal that reads back as the same float32 (what convnext-json prints)."""
    f32 = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(6, 10):
        text = "%.*g" % (digits, f32)
        if struct.unpack("f", struct.pack("f", float(text)))[0] == f32:
            return text
    return repr(f32)


def classification(buffer):
    """(model_name, [(class_id, label, score), ...]) from the convnext ROI, or None if absent."""
    roi = GstVideo.buffer_get_video_region_of_interest_meta_id(buffer, CONVNEXT_ROI_ID)
    if roi is None or GLib.quark_to_string(roi.roi_type) != ROI_TYPE:
        return None
    param = roi.get_param(ROI_PARAM)
    if param is None:                 # no class passed the threshold
        return None, []
    model = param.get_value("model_name")
    if param.has_field("labels"):
        ids, labels, scores = (list(param.get_value(name))
                               for name in ("label_ids", "labels", "confidences"))
    else:                             # a top-1-only param, as DL Streamer writes it
        ids, labels, scores = ([param.get_value(name)]
                               for name in ("label_id", "label", "confidence"))
    return model, list(zip(ids, labels, scores))


def classifies_an_object(rmeta, mtd_id):
    """Whether ClsMtd @mtd_id is related to an ODMtd (an object's class, not the frame's)."""
    for od_id in range(GstAnalytics.relation_get_length(rmeta)):
        if rmeta.get_od_mtd(od_id)[0] and (
                rmeta.get_relation(od_id, mtd_id) != GstAnalytics.RelTypes.NONE
                or rmeta.get_relation(mtd_id, od_id) != GstAnalytics.RelTypes.NONE):
            return True
    return False


def analytics_classification(buffer):
    """[(None, label, score), ...] from the buffer's first GstAnalyticsClsMtd that is not an
    object's, or None."""
    if GstAnalytics is None:
        return None
    rmeta = GstAnalytics.buffer_get_analytics_relation_meta(buffer)
    if rmeta is None:
        return None
    for mtd_id in range(GstAnalytics.relation_get_length(rmeta)):
        found, mtd = rmeta.get_cls_mtd(mtd_id)
        if found and not classifies_an_object(rmeta, mtd_id):
            return [(None, GLib.quark_to_string(mtd.get_quark(i)), mtd.get_level(i))
                    for i in range(mtd.get_length())]
    return None


def json_text(value):
    return json.dumps(value, ensure_ascii=False)   # UTF-8 as is, like json-glib in the C program


def top_k_json(classes):
    return "[%s]" % ",".join(
        '{"class_id":%s,"label":%s,"score":%s}' % (json_text(cid), json_text(label),
                                                   float32_text(score))
        for cid, label, score in classes)


def message_objects(structure):
    """The "objects" of a convnext-classification message as convnext-json's JSON text."""
    objects = []
    for obj in structure.get_value("objects"):
        found, tracking_id = obj.get_uint64("tracking-id")
        classes = zip(obj.get_value("class-ids"), obj.get_value("labels"),
                      obj.get_value("scores"))
        objects.append('{"roi_id":%d,"box":[%d,%d,%d,%d],"source_frame":%d,"tracking_id":%s,'
                       '"top_k":%s}' % (obj.get_value("roi-id"), obj.get_value("x"),
                                        obj.get_value("y"), obj.get_value("w"),
                                        obj.get_value("h"), obj.get_value("frame-number"),
                                        tracking_id if found else "null", top_k_json(classes)))
    return objects


def frame_to_json(frame, buffer, analytics_only=False, message=None, objects_mode=False):
    """One JSON line for @buffer; @message: its convnext-classification message with objects;
    @objects_mode (--objects): the line has "objects", [] without a message."""
    pts = buffer.pts if buffer.pts != Gst.CLOCK_TIME_NONE else None
    parts = ['"frame":%d' % frame, '"pts":%s' % json_text(pts)]
    objects = message_objects(message) if message is not None else None
    result = None if analytics_only else classification(buffer)
    if result is None and objects is not None:      # roi-list: no frame-level classes
        result = (message.get_value("model-name"), [])
    if result is None:
        classes = analytics_classification(buffer)
        result = (None, classes) if classes is not None else None
    classes = []
    if result is not None:
        model, classes = result
        if model is not None:
            parts.append('"model":%s' % json_text(model))
    parts.append('"top_k":%s' % top_k_json(classes))
    if objects_mode:
        parts.append('"objects":[%s]' % ",".join(objects or []))
    return "{" + ",".join(parts) + "}"


def source_description(source):
    """A file name or URI becomes a uridecodebin; anything else is a gst-launch description.
    A single word that is neither a file nor an element is taken for a missing file (ValueError)."""
    if Gst.uri_is_valid(source):
        return 'uridecodebin uri="%s"' % source
    if os.path.isfile(source):
        return 'uridecodebin uri="%s"' % Gst.filename_to_uri(source)
    if not any(c in source for c in "! \t") and Gst.ElementFactory.find(source) is None:
        raise ValueError("%s: no such file (nor a GStreamer element or pipeline)" % source)
    return source


def main():
    parser = argparse.ArgumentParser(
        description="Classify a video with convnextclassify and print one JSON line per frame.")
    parser.add_argument("source", nargs="?", default="videotestsrc num-buffers=100",
                        help="a file, a URI, or a gst-launch description producing video "
                             "(default: %(default)r)")
    parser.add_argument("-m", "--model", help="Hugging Face ConvNeXt checkpoint directory "
                        "(default: the built-in default model)")
    parser.add_argument("-k", "--top-k", type=int, help="classes per frame (default: 5)")
    parser.add_argument("-t", "--threshold", type=float,
                        help="leave out classes whose score is below this (0..1)")
    parser.add_argument("-j", "--threads", type=int,
                        help="inference threads (default: 0 = all cores)")
    parser.add_argument("--analytics", action="store_true",
                        help="read the GstAnalyticsClsMtd (GStreamer >= 1.24) instead of the ROI")
    parser.add_argument("-o", "--objects", metavar="CLASSES",
                        help="classify the objects a detector in SOURCE found whose ROI type "
                             "is in this comma-separated list (\"\" = all); each line gets "
                             "\"objects\" with boxes")
    args = parser.parse_args()

    Gst.init(None)
    if args.analytics and GstAnalytics is None:
        print("--analytics: no GstAnalytics typelib (needs GStreamer >= 1.24)", file=sys.stderr)
        return 2
    if args.analytics and args.objects is not None:
        print("--analytics reads the frame's class; --objects reads the objects from the bus "
              "message: give one of them", file=sys.stderr)
        return 2
    try:
        source = source_description(args.source)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    try:
        pipeline = Gst.parse_launch("%s ! videoconvert ! convnextclassify name=classify "
                                    "! fakesink sync=false" % source)
    except GLib.Error as error:
        print("Could not build the pipeline: %s" % error.message, file=sys.stderr)
        return 2
    classify = pipeline.get_by_name("classify")
    if args.model is not None:
        classify.set_property("model", args.model)
    if args.top_k is not None:
        classify.set_property("top-k", args.top_k)
    if args.threshold is not None:
        classify.set_property("threshold", args.threshold)
    if args.threads is not None:
        classify.set_property("threads", args.threads)
    if args.objects is not None:
        classify.set_property("inference-region", "roi-list")
        classify.set_property("object-class", args.objects)
        classify.set_property("post-messages", True)

    frames = [0]
    messages = {}       # pts -> the objects message of that frame, until its buffer passes

    def on_buffer(pad, info):
        buffer = info.get_buffer()
        message = messages.pop(buffer.pts, None)
        messages.clear()    # nothing older can still be wanted: bounded memory
        print(frame_to_json(frames[0], buffer, args.analytics, message, args.objects is not None),
              flush=True)
        frames[0] += 1
        return Gst.PadProbeReturn.OK

    classify.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_buffer)

    loop = GLib.MainLoop()
    status = [0]
    bus = pipeline.get_bus()

    def on_sync_message(bus, message):
        # The streaming thread, before the buffer reaches on_buffer (see the module's doc).
        s = message.get_structure()
        if message.src == classify and s.has_name("convnext-classification") \
                and s.has_field("objects"):
            messages[s.get_value("timestamp")] = s.copy()

    if args.objects is not None:
        bus.enable_sync_message_emission()
        bus.connect("sync-message::element", on_sync_message)

    def on_message(bus, message):
        if message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            print("ERROR from %s: %s\n%s" % (message.src.get_name(), error.message, debug or ""),
                  file=sys.stderr)
            status[0] = 1
            loop.quit()
        elif message.type == Gst.MessageType.EOS:
            loop.quit()

    def on_sigint():
        # First Ctrl-C ends a live stream cleanly; the EOS message then quits the loop.
        print("Interrupt: finishing the stream", file=sys.stderr)
        pipeline.send_event(Gst.Event.new_eos())
        return GLib.SOURCE_REMOVE

    bus.add_signal_watch()
    bus.connect("message", on_message)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, on_sigint)

    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        message = bus.pop_filtered(Gst.MessageType.ERROR)
        if message is not None:
            on_message(bus, message)
        else:
            print("The pipeline could not start", file=sys.stderr)
        status[0] = 1
    else:
        loop.run()
    pipeline.set_state(Gst.State.NULL)
    if args.objects is not None:
        bus.disable_sync_message_emission()
    bus.remove_signal_watch()
    return status[0]


if __name__ == "__main__":
    sys.exit(main())
