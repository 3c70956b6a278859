"""libconvnext itself: `convnext-classify --input-tensor X.npy --repeat N` (one warm-up, then N
forwards; one JSON line with median/min/max ms) at f32 and bf16, batch 1 and 8; its logits
against PyTorch; its peak RSS against the weights; ConvNeXt V2-T (GRN) at batch 1 against
ConvNeXt-T in the same rounds; f32 b1 with oneDNN capped at AVX2 and SSE4.1 (ONEDNN_MAX_CPU_ISA:
what a CPU without AVX-512 gets) against the uncapped f32 b1; int8 (pointwise layers, calibrated
once on the benchmark's own random inputs) at batch 1 and 8."""
import ctypes
import os
import re

import numpy as np

from common import MIB, find_executable, json_lines, run
from rounds import Family, Row, logit_check, paired_ratio

# Goals, as the largest allowed ratio of per-image medians measured in the same round:
# issue 7 against ONNX Runtime's f32, issue 21 against OpenVINO at the same precision.
TARGETS = {"f32": {"onnxruntime": 0.75, "openvino": 1.0},
           "bf16": {"onnxruntime": 0.40, "openvino": 1.0},
           "int8": {"onnxruntime": 0.22}}     # issue 18 (compared with OpenVINO's best too)
# Issue 18: an ISA-capped f32 b1 over the uncapped one, in the same round.
ISA_TARGETS = {"AVX2": 2.2, "SSE41": 5.0}
RSS_HEADROOM = 64 * MIB


def onednn_version(executable):
    """'2.6.3' for the libdnnl that `executable` loads (ldd, then dnnl_version()), else None."""
    r = run(["ldd", executable], timeout=30)
    m = re.search(r"libdnnl\.so\S*\s+=>\s+(\S+)", r.stdout)
    if not m:
        return None

    class Version(ctypes.Structure):
        _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int),
                    ("hash", ctypes.c_char_p), ("cpu_runtime", ctypes.c_uint),
                    ("gpu_runtime", ctypes.c_uint)]
    try:
        lib = ctypes.CDLL(m.group(1))
        lib.dnnl_version.restype = ctypes.POINTER(Version)
        v = lib.dnnl_version().contents
        return f"{v.major}.{v.minor}.{v.patch}"
    except (OSError, AttributeError):
        return None


class LibConvNext(Family):
    name = "libconvnext"

    def __init__(self):
        self.classify = None
        self.onednn = None
        self.calibration = None
        self.calibration_error = "no calibration file"

    def prepare(self, ctx):
        self.classify = find_executable(ctx.build_dir, "convnext-classify")
        if not self.classify:
            return f"convnext-classify not found in {ctx.build_dir}"
        self.onednn = onednn_version(self.classify)
        ctx.classify = self.classify
        self.calibration = self.calibrate(ctx)
        return None

    def calibrate(self, ctx):
        """The int8 calibration file of the benchmark model, made once from its batch-8 input
        (the same N(0,1) distribution as every timed input), as a user makes one from sample
        images; None (int8 rows n/a) if that fails."""
        path = os.path.join(ctx.model["dir"], "int8_calibration.json")
        if not os.path.exists(path):
            r = run([self.classify, "--model", ctx.model["model_dir"], "--input-tensor",
                     ctx.input_tensor(8), "--calibrate", path + ".tmp"])
            if r.rc != 0:
                self.calibration_error = r.last_error_line()
                return None
            os.replace(path + ".tmp", path)
        return path

    def argv(self, ctx, precision, batch, env=None, model_dir=None):
        def argv(repeat, logits_out):
            extra = (["--calibration", self.calibration]
                     if precision == "int8" and self.calibration else [])
            return ([self.classify, "--model", model_dir or ctx.model["model_dir"],
                     "--input-tensor", ctx.input_tensor(batch), "--repeat", str(repeat),
                     "--threads", str(ctx.threads), "--precision", precision] + extra, env)
        return argv

    def rows(self, ctx):
        return [Row("libconvnext", f"libconvnext {p} b{b}", p, b, self.argv(ctx, p, b),
                    onednn=self.onednn and f"{self.onednn} (Debian)", targets=TARGETS[p],
                    probe=(p == "f32" and b == 1))
                for b in (1, 8) for p in ("f32", "bf16", "int8")] + [
                Row("libconvnext", f"libconvnext V2 {p} b1", p, 1,
                    self.argv(ctx, p, 1, model_dir=ctx.model["v2_model_dir"]),
                    onednn=self.onednn and f"{self.onednn} (Debian)", variant="convnextv2")
                for p in ("f32", "bf16")] + [
                # ONNX Runtime picks its own kernels whatever oneDNN is capped at: the ratio to
                # it compares a capped libconvnext with an uncapped peer.
                Row("libconvnext", f"libconvnext f32 b1 {isa}", "f32", 1,
                    self.argv(ctx, "f32", 1, env={"ONEDNN_MAX_CPU_ISA": isa}),
                    onednn=self.onednn and f"{self.onednn} (Debian), max {isa}",
                    variant=isa.lower())
                for isa in ISA_TARGETS]

    def checks(self, ctx):
        """One untimed `--logits` run per precision at batch 8 against the PyTorch logits."""
        ref = np.load(os.path.join(ctx.model["dir"], "logits-b8.npy"))
        checks = {}
        for precision in ("f32", "bf16", "int8"):
            key = f"libconvnext_{precision}"
            if not self.classify or (precision == "int8" and not self.calibration):
                checks[key] = {"status": "n/a", "reason": "convnext-classify not built"
                               if not self.classify else self.calibration_error}
                continue
            extra = ["--calibration", self.calibration] if precision == "int8" else []
            r = run([self.classify, "--model", ctx.model["model_dir"], "--input-tensor",
                     ctx.input_tensor(8), "--logits", "--threads", str(ctx.threads),
                     "--precision", precision] + extra)
            rows = [o["logits"] for o in json_lines(r.stdout) if isinstance(o.get("logits"), list)]
            if r.rc != 0 or len(rows) != ref.shape[0]:
                checks[key] = {"status": "n/a", "reason": r.last_error_line() if r.rc != 0
                               else f"expected {ref.shape[0]} JSON lines with logits"}
                continue
            checks[key] = logit_check(np.array(rows, dtype=np.float32), ref, precision)
        return checks

    def extras(self, ctx):
        return self.rss_extras(ctx) + self.v2_extras(ctx) + self.isa_extras(ctx)

    def isa_extras(self, ctx):
        """Issue 18: f32 b1 capped at AVX2 / SSE4.1 over the uncapped f32 b1, per round."""
        out = []
        base = ctx.row("libconvnext", "f32", 1)
        for isa, limit in ISA_TARGETS.items():
            row = next((r for r in ctx.rows if r.variant == isa.lower()), None)
            ratio, ratios = (paired_ratio(row, [base]) if row and base and not base.na
                             else (None, []))
            out.append({"name": f"libconvnext f32 b1, ONEDNN_MAX_CPU_ISA={isa} / uncapped",
                        "value": "n/a" if ratio is None else f"{ratio:.2f}x",
                        "target": f"<= {limit}x",
                        "result": "n/a" if ratio is None else
                        ("pass" if ratio <= limit else "FAIL"),
                        "round_ratios": [round(r, 3) for r in ratios]})
        return out

    def v2_extras(self, ctx):
        """What GRN costs: the V2-T forward over the V1-T one, per round (same shapes)."""
        out = []
        for p in ("f32", "bf16"):
            v1 = ctx.row("libconvnext", p, 1)
            v2 = next((r for r in ctx.rows if r.variant == "convnextv2" and r.precision == p), None)
            ratio, ratios = paired_ratio(v2, [v1]) if v1 and v2 and not v1.na else (None, [])
            out.append({"name": f"ConvNeXt V2-T / ConvNeXt-T, libconvnext {p} b1",
                        "value": "n/a" if ratio is None else f"{ratio:.2f}x",
                        "target": "-", "result": "-",
                        "round_ratios": [round(r, 3) for r in ratios]})
        return out

    def rss_extras(self, ctx):
        row = ctx.row("libconvnext", "f32", 1)
        s = row.summary() if row else None
        weights = ctx.model["weights_bytes"]
        limit = weights + RSS_HEADROOM
        target = f"<= {limit / MIB:.1f} MiB (weights {weights / MIB:.1f} + 64)"
        if not s or not s["peak_rss_bytes"]:
            return [{"name": "peak RSS, libconvnext f32 b1", "value": "n/a", "target": target,
                     "result": "n/a"}]
        rss = s["peak_rss_bytes"]
        return [{"name": "peak RSS, libconvnext f32 b1", "value": f"{rss / MIB:.1f} MiB",
                 "target": target, "result": "pass" if rss <= limit else "FAIL",
                 "bytes": rss, "limit_bytes": limit}]


FAMILY = LibConvNext
