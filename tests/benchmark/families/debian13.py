"""The same benchmark on Debian 13 (oneDNN 3.7, GStreamer 1.26), from this Debian 12 host:
tests/debian13/run.sh runs tests/benchmark/in-debian13.sh in its chroot, which builds the project
there and runs bench.py on the families DEBIAN13_FAMILIES with this run's model (the same
weights and ONNX file, shipped in the project copy that run.sh makes).  Its rows come back in
its results.json and join this run's tables with "(Debian 13)" in their names: libconvnext on
oneDNN 3.7 (the oneDNN column says which each row used), OpenVINO (the same wheel, as the anchor
that links the two runs: each row's ratio to OpenVINO is measured within its own run), and
onnxinference against convnextclassify on a 1080p stream.  The chroot run has its own rounds:
its rows are paired with its own peers, never with this run's.

It costs a build in the chroot (~2 minutes on a quiet machine) besides its rounds; the chroot
itself is made once and cached by run.sh (see tests/debian13/README.md)."""
import json
import os
import shutil
import tempfile

from common import SOURCE_ROOT, log, run
from rounds import Family, Row

DEBIAN13_FAMILIES = "libconvnext,openvino,onnxinference"
SITE = "Debian 13"


def project_copy(dest):
    """The project as git sees it (tracked and untracked files, uncommitted changes included),
    as run.sh would copy it: a tree that can also carry the model."""
    r = run(["sh", "-c", "git ls-files -z -c -o --exclude-standard | tar --null -T - "
             "--ignore-failed-read -cf - | tar -xf - -C " + dest], cwd=SOURCE_ROOT, timeout=600)
    return r.rc == 0


class Debian13(Family):
    name = "debian13"

    def __init__(self):
        self.result = None
        self.reason = None

    def prepare(self, ctx):
        self.reason = self.run_chroot(ctx)
        return self.reason

    def run_chroot(self, ctx):
        script = os.path.join(SOURCE_ROOT, "tests", "debian13", "run.sh")
        if not os.path.exists(script):
            return "no tests/debian13/run.sh"
        if os.geteuid() != 0:
            return "tests/debian13/run.sh needs root"
        tmp = tempfile.mkdtemp(prefix="convnext-bench-debian13-", dir="/var/tmp")
        try:
            src = os.path.join(tmp, "convnext")
            os.makedirs(src)
            if not project_copy(src):
                return "could not copy the project"
            model = os.path.join(src, "bench-model")
            shutil.copytree(ctx.model["dir"], model, ignore=shutil.ignore_patterns("*.f32"))
            args = ["--families", DEBIAN13_FAMILIES, "--threads", str(ctx.threads),
                    "--budget", str(ctx.args.budget)]
            args += ["--quick"] if ctx.args.quick else [
                "--rounds", str(ctx.args.rounds), "--repeat", str(ctx.args.repeat),
                "--repeat-b8", str(ctx.args.repeat_b8)]
            log(f"Debian 13: building and benchmarking {DEBIAN13_FAMILIES} in the chroot "
                "(tests/debian13/run.sh; its tables come back when it ends)")
            r = run(["bash", os.path.join(src, "tests", "debian13", "run.sh"), "run", "--",
                     "bash", "tests/benchmark/in-debian13.sh", "/work/convnext/bench-model", *args],
                    timeout=5400)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        marker = "=== results.json\n"
        if r.rc != 0 or marker not in r.stdout:
            return f"the Debian 13 run failed: {r.last_error_line()}"
        self.result = json.loads(r.stdout.split(marker, 1)[1])
        return None

    def rows(self, ctx):
        if not self.result:
            return []
        rows = []
        for d in self.result.get("raw_rows", []):
            if d["kind"] == "stream":       # those come back as the chroot run's own table
                continue
            row = Row.from_json(d, site=SITE)
            row.label = f"{row.label} ({SITE})"
            if row.runtime == "libconvnext" and row.kind == "latency":
                row.targets = {"openvino": 1.0}     # no ONNX Runtime in the chroot run
            rows.append(row)
        return rows

    def checks(self, ctx):
        return {f"{k} ({SITE})": v for k, v in (self.result or {}).get("logit_checks", {}).items()}

    def tables(self, ctx):
        return [{**t, "title": f"{t['title']} ({SITE})"} for t in (self.result or {}).get("tables", [])]

    def measure(self, ctx):
        if not self.result:
            return {}
        return {k: self.result.get(k) for k in ("date", "machine", "settings", "git_commit",
                                                 "openvino", "onnxinference", "duration_s")}

    def notes(self, ctx):
        if not self.result:
            return [f"- Debian 13 rows: n/a ({self.reason})"]
        m = self.result.get("machine", {})
        return [f"- Debian 13 chroot run: {self.result['settings'].get('rounds')} round(s), "
                f"{self.result.get('duration_s')} s, load {m.get('loadavg_before', [0])[0]:.1f} "
                f"before; its rows are paired with its own OpenVINO rows"]


FAMILY = Debian13
