"""ONNX Runtime (npm onnxruntime-node, CPU) on the ONNX export: the baseline of issue 7's targets.
ort-bench.js times it.  The npm package carries the CPU binding and libonnxruntime for
linux/x64; its install script only downloads the CUDA/TensorRT providers, so it is skipped."""
import glob
import json
import os
import platform
import shutil

import numpy as np

from common import HERE, log, run
from rounds import Family, Row, logit_check_file

VERSION = os.environ.get("CONVNEXT_BENCH_ORT_VERSION", "1.30.0")


class OnnxRuntime(Family):
    name = "onnxruntime"

    def __init__(self):
        self.prefix = None
        self.reason = None

    def prepare(self, ctx):
        prefix = os.path.join(ctx.cache, "onnxruntime-node-" + VERSION)
        pkg = os.path.join(prefix, "node_modules", "onnxruntime-node")
        if not os.path.exists(os.path.join(pkg, "package.json")):
            if not shutil.which("npm") or not shutil.which("node"):
                return "node/npm not found"
            log(f"installing onnxruntime-node@{VERSION} (npm --ignore-scripts) in {prefix}")
            os.makedirs(prefix, exist_ok=True)
            with open(os.path.join(prefix, "package.json"), "w") as f:
                f.write('{"private": true}\n')
            r = run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--no-save",
                     "--prefix", prefix, f"onnxruntime-node@{VERSION}"], timeout=600)
            if r.rc != 0:
                return f"npm install failed: {r.last_error_line()}"
        arch = {"x86_64": "x64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
        if not glob.glob(os.path.join(pkg, "bin", "napi-v*", "linux", arch,
                                      "onnxruntime_binding.node")):
            return f"no native binding for linux/{arch} in {pkg}/bin"
        r = run(["node", "-e", f"require({json.dumps(pkg)})"], timeout=60)
        if r.rc != 0:
            return f"onnxruntime-node does not load: {r.last_error_line()}"
        self.prefix = prefix
        return None

    def rows(self, ctx):
        def argv_for(batch):
            def argv(repeat, logits_out):
                cmd = ["node", os.path.join(HERE, "ort-bench.js"), "--ort-dir", self.prefix,
                       "--model", ctx.model["onnx"], "--input", ctx.input_tensor(batch),
                       "--repeat", str(repeat), "--warmup", "2" if batch == 1 else "1",
                       "--threads", str(ctx.threads)]
                if logits_out:
                    cmd += ["--logits-out", logits_out]
                return cmd, None
            return argv
        return [Row("onnxruntime", f"ONNX Runtime f32 b{b}", "f32", b, argv_for(b),
                    onednn="none (MLAS)", want_logits=(b == 8), probe=(b == 1))
                for b in (1, 8)]

    def checks(self, ctx):
        ref = np.load(os.path.join(ctx.model["dir"], "logits-b8.npy"))
        return {"ort_f32": logit_check_file(ctx.row("onnxruntime", "f32", 8), ref, "f32")}

    def measure(self, ctx):
        return {"version": VERSION}

    def notes(self, ctx):
        return [f"- ONNX Runtime {VERSION} (npm onnxruntime-node, CPU provider)"]

    def extras(self, ctx):
        row = ctx.row("onnxruntime", "f32", 1)
        s = row.summary() if row else None
        if not s or not s["peak_rss_bytes"]:
            return []
        return [{"name": "peak RSS, ONNX Runtime b1 (node process)",
                 "value": f"{s['peak_rss_bytes'] / 2**20:.1f} MiB", "target": "-", "result": "-",
                 "bytes": s["peak_rss_bytes"]}]


FAMILY = OnnxRuntime
