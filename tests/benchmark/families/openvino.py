"""OpenVINO, DL Streamer's engine (pip `openvino`, CPU plugin), on the same ONNX export and the
same inputs, configured as the issue says: static input shape (reshape), INFERENCE_NUM_THREADS
= --threads, and
- latency: PERFORMANCE_HINT LATENCY, NUM_STREAMS 1, INFERENCE_PRECISION_HINT f32 and bf16, at
  batch 1 and 8: the peer of libconvnext's rows at the same precision and batch;
- throughput: PERFORMANCE_HINT THROUGHPUT, NUM_STREAMS 2, 4 batch-1 requests in flight (how DL
  Streamer serves several cameras: nireq), in frames per second, against libconvnext at batch 8.
ov-bench.py times it, in a venv under the cache with the pinned wheel."""
import os

import numpy as np

from common import HERE, pip_venv
from rounds import Family, Row, logit_check_file

VERSION = os.environ.get("CONVNEXT_BENCH_OPENVINO_VERSION", "2026.4.1")
# The wheel and what it pulls, pinned (openvino 2026.4.1 asks for numpy >= 1.16.6, < 2.6).
REQUIREMENTS = [f"openvino=={VERSION}", "numpy==2.4.6", "openvino-telemetry==2025.2.0"]
STREAMS, NIREQ = 2, 4


class OpenVINO(Family):
    name = "openvino"

    def __init__(self):
        self.python = None
        self.install = None

    def prepare(self, ctx):
        self.python, info = pip_venv(ctx.cache, f"openvino-{VERSION}", REQUIREMENTS)
        if self.python is None:
            return info
        self.install = info
        return None

    def argv(self, ctx, precision, batch, mode="latency"):
        def argv(repeat, logits_out):
            cmd = [self.python, os.path.join(HERE, "ov-bench.py"), "--model", ctx.model["onnx"],
                   "--input", ctx.input_tensor(batch), "--precision", precision,
                   "--repeat", str(repeat), "--warmup", "2" if batch == 1 else "1",
                   "--threads", str(ctx.threads), "--mode", mode]
            if mode == "throughput":
                cmd += ["--streams", str(STREAMS), "--nireq", str(NIREQ)]
            if logits_out:
                cmd += ["--logits-out", logits_out]
            return cmd, None
        return argv

    def rows(self, ctx):
        onednn = "own fork (in the CPU plugin)"
        rows = [Row("openvino", f"OpenVINO {p} b{b}", p, b, self.argv(ctx, p, b), onednn=onednn,
                    want_logits=(b == 8))
                for b in (1, 8) for p in ("f32", "bf16")]
        # throughput: batch-1 requests, timed with the batch-8 rows (8 frames per b8 run)
        rows += [Row("openvino", f"OpenVINO {p} throughput ({STREAMS} streams, {NIREQ} requests)",
                     p, 1, self.argv(ctx, p, 1, "throughput"), kind="throughput", group=8,
                     onednn=onednn, repeat_scale=8)
                 for p in ("f32", "bf16")]
        return rows

    def checks(self, ctx):
        ref = np.load(os.path.join(ctx.model["dir"], "logits-b8.npy"))
        return {f"openvino_{p}": logit_check_file(ctx.row("openvino", p, 8), ref, p)
                for p in ("f32", "bf16")}

    def measure(self, ctx):
        return {"version": VERSION, "requirements": REQUIREMENTS, "install": self.install}

    def notes(self, ctx):
        notes = []
        if self.install:
            notes.append(f"- OpenVINO {VERSION} (pip, venv {self.install['size_bytes'] / 2**20:.0f} MiB, "
                         f"installed in {self.install['install_s']:.0f} s)")
        for r in ctx.rows:
            if r.runtime != "openvino" or not r.info:
                continue
            prec = r.info.get("compiled_precision")
            ops = "; ".join(f"{k} " + ", ".join(f"{n} {p}" for p, n in v.items())
                            for k, v in (r.info.get("runtime_precisions") or {}).items())
            warn = "" if prec == r.precision else f" (asked for {r.precision}!)"
            notes.append(f"- {r.label}: compiled for {prec}{warn}, {r.info.get('num_streams')} "
                         f"stream(s), {r.info.get('inference_num_threads')} threads; {ops}")
        return notes


FAMILY = OpenVINO
