"""Per-object classification (issue 16): a 1920x1080 I420 frame carrying 8
GstVideoRegionOfInterestMeta through convnextclassify inference-region=roi-list, the 8 crops in
one forward call (batch-size=8) against 8 calls (batch-size=1), frames alternating between the
two elements in one process (roi-bench.c), ConvNeXt-T random weights.  Judged: the per-frame
time at batch 8 is no worse than 8 calls (the paired ratio <= 1)."""
import os

from common import find_executable, json_lines, run
from rounds import Family

NAME = "8 ROIs of a 1080p frame: one forward call / 8 calls"
MAX_RATIO = 1.0
QUICK_FRAMES = 4


class Roi(Family):
    name = "roi"

    def __init__(self):
        self.exe = None

    def prepare(self, ctx):
        bench_dir = os.path.join(ctx.build_dir, "tests", "benchmark")
        self.exe = find_executable(bench_dir, "convnext-roi-bench")
        if self.exe is None and os.path.exists(os.path.join(ctx.build_dir, "build.ninja")):
            run(["meson", "compile", "-C", ctx.build_dir, "convnext-roi-bench"], timeout=600)
            self.exe = find_executable(bench_dir, "convnext-roi-bench")
        return None if self.exe else "convnext-roi-bench not built (needs gstreamer-check)"

    def measure(self, ctx):
        if self.exe is None:
            return {"status": "n/a", "reason": "convnext-roi-bench not built"}
        frames = QUICK_FRAMES if ctx.args.quick else max(QUICK_FRAMES, ctx.frames // 2)
        env = {"GST_PLUGIN_PATH": os.path.join(ctx.build_dir, "gst-plugin"),
               "GST_REGISTRY_1_0": os.path.join(ctx.cache, "gst-registry.bin")}
        r = run([self.exe, "--model", ctx.model["model_dir"], "--frames", str(frames),
                 "--threads", str(ctx.threads)], env=env, timeout=1800)
        objs = json_lines(r.stdout)
        if r.rc != 0 or not objs or "paired_ratio" not in objs[-1]:
            return {"status": "n/a", "reason": r.last_error_line()}
        return {"status": "ok", **objs[-1]}

    def extras(self, ctx):
        res = ctx.results.get(self.name, {})
        target = f"<= {MAX_RATIO:.2f}"
        if res.get("status") != "ok":
            return [{"name": NAME, "value": "n/a", "target": target, "result": "n/a",
                     "reason": res.get("reason")}]
        ratio = res["paired_ratio"]
        return [{"name": NAME,
                 "value": f"{ratio:.3f} ({res['batch8_ms']:.1f} vs {res['eight_calls_ms']:.1f} "
                          f"ms per frame, {res['frames']} frames)",
                 "target": target, "result": "pass" if ratio <= MAX_RATIO else "FAIL",
                 "ratio": ratio}]

    def notes(self, ctx):
        res = ctx.results.get(self.name, {})
        if res.get("status") != "ok":
            return []
        return [f"- roi-bench: {res['frame']}, threads {res['threads']}: median "
                f"{res['batch8_ms']:.1f} ms (min {res['batch8_min_ms']:.1f}) per frame at "
                f"batch-size=8, {res['eight_calls_ms']:.1f} ms (min "
                f"{res['eight_calls_min_ms']:.1f}) at batch-size=1; "
                f"{res['batch8_ms'] / 8:.1f} ms per region"]


FAMILY = Roi
