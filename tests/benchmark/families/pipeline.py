"""The Python user's baseline: transformers' pipeline("image-classification") on the benchmark's
checkpoint and one photo (tests/data/chelsea.png), end to end per image (PIL decoding,
ConvNextImageProcessor, the PyTorch forward, top-5), against `convnext-classify --repeat N
--end-to-end` on the same file (gdk-pixbuf decoding, libconvnext's preprocessing and forward,
top-5), 2 threads each.  transformers 4.49.0 (pinned as the reference check pins it) runs on
Debian's python3-torch 1.13 (OpenBLAS), in a venv under the cache that sees Debian's packages."""
import os
import sys

from common import HERE, SOURCE_ROOT, find_executable, json_lines, pip_venv, run
from families.libconvnext import onednn_version
from rounds import Family, Row

sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "reference"))
from check_transformers import JUDGES  # noqa: E402  (one list of pins for both)

REQUIREMENTS = JUDGES["4.49"]
IMAGE = os.path.join(SOURCE_ROOT, "tests", "data", "chelsea.png")
ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}


def ctx_onednn(classify):
    v = onednn_version(classify) if classify else None
    return f"{v} (Debian)" if v else None


class Pipeline(Family):
    name = "pipeline"

    def __init__(self):
        self.python = None
        self.install = None
        self.classify = None
        self.onednn = None

    def prepare(self, ctx):
        self.classify = find_executable(ctx.build_dir, "convnext-classify")
        r = run(["/usr/bin/python3", "-c", "import os, torch; print(os.path.dirname(torch.__file__))"],
                timeout=120)
        if r.rc != 0:
            return "no python3-torch for /usr/bin/python3 (apt-get install python3-torch)"
        v = onednn_version(os.path.join(r.stdout.strip(), "lib", "libtorch_cpu.so"))
        self.onednn = f"{v} (torch's convolutions)" if v else "torch's own"
        self.python, info = pip_venv(ctx.cache, "transformers-" + REQUIREMENTS[0].split("==")[1],
                                     REQUIREMENTS, system_site_packages=True)
        if self.python is None:
            return info
        self.install = info
        return None

    def rows(self, ctx):
        def pipeline_argv(repeat, logits_out):
            return ([self.python, os.path.join(HERE, "pipeline-bench.py"), "--model",
                     ctx.model["model_dir"], "--image", IMAGE, "--repeat", str(repeat),
                     "--warmup", "2", "--threads", str(ctx.threads)],
                    {**ENV, "OMP_NUM_THREADS": str(ctx.threads)})

        def classify_argv(precision):
            def argv(repeat, logits_out):
                return ([self.classify, "--model", ctx.model["model_dir"],
                         "--threads", str(ctx.threads), "--precision", precision,
                         "--repeat", str(repeat), "--end-to-end", IMAGE], None)
            return argv
        return [Row("transformers", "transformers pipeline() f32, end to end", "f32", 1,
                    pipeline_argv, kind="end_to_end", onednn=self.onednn),
                Row("libconvnext", "convnext-classify f32, end to end", "f32", 1,
                    classify_argv("f32"), kind="end_to_end", onednn=ctx_onednn(self.classify)),
                Row("libconvnext", "convnext-classify bf16, end to end", "bf16", 1,
                    classify_argv("bf16"), kind="end_to_end", onednn=ctx_onednn(self.classify))]

    def checks(self, ctx):
        """Same top-5 from both on the photo: ids and softmax scores within 1e-4."""
        row = next((r for r in ctx.rows if r.runtime == "transformers" and r.kind == "end_to_end"),
                   None)
        if row is None or row.na or not row.info or not self.classify:
            return {"pipeline_top5": {"status": "n/a", "reason": row.na if row else "no row"}}
        r = run([self.classify, "--model", ctx.model["model_dir"], "--threads", str(ctx.threads),
                 IMAGE])
        got = next((o["top"] for o in json_lines(r.stdout) if "top" in o), None)
        want = row.info.get("top")
        if got is None or not want:
            return {"pipeline_top5": {"status": "n/a", "reason": r.last_error_line()}}
        diff = max(abs(g["score"] - w["score"]) for g, w in zip(got, want))
        same = [g["label"] for g in got] == [w["label"] for w in want]
        return {"pipeline_top5": {"status": "pass" if same and diff <= 1e-4 else "fail",
                                  "reason": f"top-5 labels {'equal' if same else 'differ'}, "
                                            f"max |score diff| {diff:.1e}"}}

    def measure(self, ctx):
        return {"requirements": REQUIREMENTS, "install": self.install, "image": IMAGE}

    def notes(self, ctx):
        row = next((r for r in ctx.rows if r.runtime == "transformers"), None)
        if not row or not row.info:
            return []
        i = row.info
        return [f"- transformers pipeline: transformers {i.get('transformers')}, torch "
                f"{i.get('torch')} (Debian python3-torch), {i.get('processor')}, "
                f"{i.get('threads')} threads; image {os.path.relpath(IMAGE, SOURCE_ROOT)}"]


FAMILY = Pipeline
