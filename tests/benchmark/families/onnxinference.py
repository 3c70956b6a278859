"""Upstream's element, where GStreamer has it (1.24+: gst-plugins-bad's onnxinference, on
Debian 13 in libgstonnx.so with Debian's libonnxruntime): the same 1080p I420 stream through
`videoconvertscale ! onnxinference` and through `convnextclassify`, the same ConvNeXt-T weights
(the benchmark's ONNX export, given the output-id metadata onnxinference requires), 2 threads
(convnextclassify threads=2; onnxinference's ONNX Runtime session uses its default, one thread
per core: 2 here).  element-peers.py runs each; the rows are timed in the rounds with the batch-8
rows.  Reported: frames per second and CPU time per frame (all threads), also minus the source's
own (a third pipeline, videotestsrc alone).

What differs besides the engine: onnxinference scales the frame with videoconvertscale (bilinear,
the whole frame squeezed to 224x224) and normalises with one offset and scale for all channels
(here ImageNet's mean and std averaged: (v - 114.5) / 57.6), where convnextclassify does the
checkpoint's ConvNextImageProcessor resize, center crop and per-channel normalisation."""
import os
import struct

from common import HERE, find_executable, median_of, run
from families.libconvnext import onednn_version
from rounds import Family, Row

FRAMES_PER_B8_RUN = 4       # 4 x --repeat-b8 (8) = 32 timed frames per round
ONNX_OFFSET, ONNX_SCALE = -0.449 * 255, 0.226 * 255


def varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def with_output_ids(src, dst, ids):
    """A copy of the ONNX model src with metadata_props {output name: id} appended: onnxinference
    refuses a model whose outputs have no id there.  ModelProto's metadata_props is field 14
    (StringStringEntryProto: key = 1, value = 2); protobuf lets a field come at the end of the
    message, so the bytes are appended and nothing else is rewritten."""
    extra = b""
    for key, value in ids.items():
        entry = (b"\x0a" + varint(len(key.encode())) + key.encode()
                 + b"\x12" + varint(len(value.encode())) + value.encode())
        extra += b"\x72" + varint(len(entry)) + entry
    with open(src, "rb") as f:
        data = f.read()
    with open(dst + ".tmp", "wb") as f:
        f.write(data + extra)
    os.replace(dst + ".tmp", dst)


class OnnxInference(Family):
    name = "onnxinference"

    def __init__(self):
        self.onnx = None
        self.env = None
        self.onednn = None

    def prepare(self, ctx):
        self.env = {"GST_PLUGIN_PATH": os.path.join(ctx.build_dir, "gst-plugin"),
                    "GST_REGISTRY_1_0": os.path.join(ctx.cache, "gst-registry-peers.bin")}
        r = run(["gst-inspect-1.0", "onnxinference"], env=self.env, timeout=120)
        if r.rc != 0:
            v = run(["gst-inspect-1.0", "--version"], timeout=60).stdout.split("\n")[1:2]
            return (f"no onnxinference element here ({' '.join(v).strip() or 'GStreamer ?'}; "
                    "gst-plugins-bad >= 1.24 with onnx: Debian 13, tests/debian13)")
        r = run(["gst-inspect-1.0", "convnextclassify"], env=self.env, timeout=120)
        if r.rc != 0:
            return f"convnextclassify not built in {ctx.build_dir}"
        classify = find_executable(ctx.build_dir, "convnext-classify")
        v = onednn_version(classify) if classify else None
        self.onednn = f"{v} (Debian)" if v else None
        self.onnx = os.path.splitext(ctx.model["onnx"])[0] + "-gst.onnx"
        with_output_ids(ctx.model["onnx"], self.onnx, {"logits": "convnext-logits"})
        return None

    def rows(self, ctx):
        def argv_for(element, precision="f32"):
            def argv(repeat, logits_out):
                cmd = ["/usr/bin/python3", os.path.join(HERE, "element-peers.py"),
                       "--element", element, "--frames", str(repeat), "--warmup", "3",
                       "--threads", str(ctx.threads)]
                if element == "onnxinference":
                    cmd += ["--model", self.onnx, "--onnx-offset", str(ONNX_OFFSET),
                            "--onnx-scale", str(ONNX_SCALE)]
                elif element == "convnextclassify":
                    cmd += ["--model", ctx.model["model_dir"], "--precision", precision]
                return cmd, self.env
            return argv
        common = dict(kind="stream", group=8, repeat_scale=FRAMES_PER_B8_RUN)
        return [Row("source", "videotestsrc alone", "-", 1, argv_for("source"), **common),
                Row("onnxinference", "videoconvertscale ! onnxinference", "f32", 1,
                    argv_for("onnxinference"), onednn="none (ONNX Runtime, MLAS)", **common),
                Row("libconvnext", "convnextclassify f32", "f32", 1, argv_for("convnextclassify"),
                    onednn=self.onednn, **common),
                Row("libconvnext", "convnextclassify bf16", "bf16", 1,
                    argv_for("convnextclassify", "bf16"), onednn=self.onednn, **common)]

    def tables(self, ctx):
        rows = [r for r in ctx.rows if r.kind == "stream" and r.site is None]
        if not rows or all(r.na for r in rows):
            return []
        source = next((r for r in rows if r.runtime == "source"), None)
        upstream = next((r for r in rows if r.runtime == "onnxinference"), None)
        body = []
        for r in rows:
            if r.na or not r.rounds:
                body.append([r.label, "n/a", "n/a", "n/a", "n/a", r.na or "not run"])
                continue
            fps = median_of([t["info"]["fps"] for t in r.rounds.values()])
            cpu = median_of([t["info"]["cpu_ms_per_frame"] for t in r.rounds.values()])
            src_cpu = (median_of([t["info"]["cpu_ms_per_frame"] for t in source.rounds.values()])
                       if source and source.rounds and r is not source else None)
            ratio = None
            if upstream and upstream.rounds and r is not upstream and r is not source:
                # frames per second relative to onnxinference's, paired per round
                both = sorted(set(r.rounds) & set(upstream.rounds))
                ratio = median_of([r.rounds[k]["info"]["fps"] / upstream.rounds[k]["info"]["fps"]
                                   for k in both]) if both else None
            body.append([r.label, f"{fps:.2f}", f"{cpu:.1f}",
                         "-" if src_cpu is None else f"{cpu - src_cpu:.1f}",
                         "-" if ratio is None else f"{ratio:.2f}", ""])
        return [{"title": "1080p I420 stream, as fast as it goes (element-peers.py)",
                 "head": ["pipeline", "fps", "CPU ms/frame", "minus source", "fps / onnxinference",
                          "note"],
                 "rows": body, "right": [1, 2, 3, 4]}]

    def notes(self, ctx):
        row = next((r for r in ctx.rows if r.runtime == "onnxinference"), None)
        if row is not None and row.na:
            return [f"- onnxinference: n/a ({row.na})"]
        return [f"- onnxinference: optimization-level=enable-all (its default is disable-all), "
                f"input-tensor-offset {ONNX_OFFSET:.1f}, input-tensor-scale {ONNX_SCALE:.1f}, "
                "input-image-format chw; frames scaled by videoconvertscale"] if self.onnx else []


FAMILY = OnnxInference
