"""Preprocessing one 1920x1080 I420 frame to 224x224 (tests/preprocess/bench-preprocess.c) as a
share of one libconvnext f32 batch-1 inference of the same run."""
import os
import re

from common import SOURCE_ROOT, find_executable, json_lines, run
from rounds import Family

MAX_PCT = 5.0               # issue 7
NAME = "preprocess 1080p I420 -> 224, % of f32 b1"


class Preprocess(Family):
    name = "preprocess"

    def measure(self, ctx):
        """ms per frame: a JSON line with median_ms/ms, or a plain '<number> ms'."""
        src = os.path.join(SOURCE_ROOT, "tests", "preprocess", "bench-preprocess.c")
        exe = find_executable(ctx.build_dir, "bench-preprocess")
        if not exe:
            why = ("not built in " + ctx.build_dir if os.path.exists(src)
                   else "tests/preprocess/bench-preprocess.c missing")
            return {"status": "n/a", "reason": why}
        r = run([exe, ctx.model["model_dir"]], timeout=600)
        if r.rc != 0:   # maybe it takes no model directory
            r = run([exe], timeout=600)
        if r.rc != 0:
            return {"status": "n/a", "reason": f"{exe}: {r.last_error_line()}"}
        for obj in reversed(json_lines(r.stdout)):
            for k in ("median_ms", "ms", "time_ms"):
                if isinstance(obj.get(k), (int, float)):
                    return {"status": "ok", "ms": float(obj[k]), "output": obj}
        m = re.findall(r"([0-9]+(?:\.[0-9]+)?)\s*ms", r.stdout)
        if m:
            return {"status": "ok", "ms": float(m[-1]), "output": r.stdout.strip()[-300:]}
        return {"status": "n/a", "reason": f"no time in its output: {r.stdout.strip()[:200]}"}

    def extras(self, ctx):
        pre = ctx.results.get(self.name, {})
        row = ctx.row("libconvnext", "f32", 1)
        f32_b1 = row.summary() if row else None
        target = f"<= {MAX_PCT:.0f}%"
        if pre.get("status") != "ok" or not f32_b1:
            return [{"name": NAME, "value": "n/a", "target": target, "result": "n/a",
                     "reason": pre.get("reason", "no libconvnext f32 b1 time")}]
        pct = 100 * pre["ms"] / f32_b1["median_ms"]
        out = pre.get("output") if isinstance(pre.get("output"), dict) else {}
        mins = (f"; of minima {100 * out['min_ms'] / f32_b1['min_ms']:.2f}%"
                if isinstance(out.get("min_ms"), (int, float)) else "")
        return [{"name": NAME, "value": f"{pct:.2f}% ({pre['ms']:.2f} ms{mins})", "target": target,
                 "result": "pass" if pct <= MAX_PCT else "FAIL", "pct": pct}]

    def notes(self, ctx):
        pre = ctx.results.get(self.name, {})
        if pre.get("status") != "ok":
            return [f"- bench-preprocess: n/a ({pre.get('reason')})"]
        out = pre["output"] if isinstance(pre["output"], dict) else {}
        more = ", ".join(f"{k} {out[k]:.2f}" for k in ("min_ms", "cpu_median_ms")
                         if isinstance(out.get(k), (int, float)))
        return [f"- bench-preprocess: {pre['ms']:.2f} ms median" + (f" ({more})" if more else "")]


FAMILY = Preprocess
