"""The parts every measurement family plugs into: a Family (prepare, rows, checks, one-off
measurements, extra table rows, notes), a Row (one timed configuration), and the interleaved
rounds that time every row of every family.

Rows are timed in rounds.  Within a round, the rows of one group (batch 1, batch 8) run one
after the other in an order rotated from round to round, so that load that comes and goes
hits every row alike; a row's median is the median of its round medians, and its ratio to a
peer is the median over rounds of the ratio of the two medians measured in the same round
(a ratio of overall medians could pair a quiet round of one with a busy round of the other).
"""
import os
import re
import time

import numpy as np

from common import log, median_of, run, timing_of

F32_LOGIT_TOL = 1e-4        # x max(1, max|ref|), as the library's parity tests
BF16_LOGIT_TOL = 5e-2       # x range of the f32 logits

# Which peer row a row is compared with, per precision of the row: the peer's precision, or
# "best" = the fastest of the peer's rows at that batch in the same round.  int8 rows (not
# built yet) are compared with OpenVINO's own best, whatever precision that is.
ORT_PEER = {"f32": "f32", "bf16": "f32", "int8": "f32"}
OPENVINO_PEER = {"f32": "f32", "bf16": "bf16", "int8": "best"}


class Context:
    """What the families share: settings, paths, the benchmark model, and (after the rounds)
    every row and every family's one-off results."""

    def __init__(self, args, build_dir, cache, output, model):
        self.args, self.build_dir, self.cache, self.output = args, build_dir, cache, output
        self.threads = args.threads
        self.model = model
        self.classify = None    # convnext-classify, once the libconvnext family found it
        self.frames = args.frames
        self.rows = []
        self.results = {}       # family name -> what its measure() returned

    def row(self, runtime, precision, batch, kind="latency", site=None):
        return next((r for r in self.rows if r.runtime == runtime and r.precision == precision
                     and r.batch == batch and r.kind == kind and r.variant is None
                     and r.site == site), None)

    def input_tensor(self, batch):
        return os.path.join(self.model["dir"], f"input-b{batch}.npy")


class Family:
    """One kind of measurement.  Subclasses override what they have; all hooks are optional.

    prepare(ctx)      install or build what the family needs; return None, or the reason why
                      it cannot run (its rows then show n/a with that reason)
    rows(ctx)         the Rows it wants timed in the rounds
    checks(ctx)       after the rounds: {name: logit check} (is it computing the right thing?)
    measure(ctx)      after the rounds: one-off measurements, kept as ctx.results[name]
    extras(ctx)       rows of the checks table: {name, value, target, result, ...}
    tables(ctx)       tables of its own: [{"title", "head": [...], "rows": [[...]], "right": [i]}]
    notes(ctx)        lines ("- ...") printed under the tables
    """

    name = "?"

    def prepare(self, ctx):
        return None

    def rows(self, ctx):
        return []

    def checks(self, ctx):
        return {}

    def measure(self, ctx):
        return {}

    def extras(self, ctx):
        return []

    def tables(self, ctx):
        return []

    def notes(self, ctx):
        return []


class Row:
    """One timed configuration.

    argv(repeat, logits_out) -> (argv, env) runs it once with `repeat` timed runs and prints a
    JSON line with median_ms/min_ms (the keys of `convnext-classify --repeat`); logits_out is a
    path when the row's logits are wanted (first recorded round of a row with want_logits).
    kind "latency" is one forward of `batch` images per run; "throughput" reports ms per frame
    with several requests in flight (its `batch` is the images per request).  variant names a
    row that is not the plain runtime/precision/batch one (e.g. an ISA-limited or oneDNN 3
    build), so that peers and targets are looked up on the plain rows only.  site names the
    machine a row was measured on when it is not this one (rows from the Debian 13 chroot's own
    run): its peers are looked up among the rows of the same site and the same run.
    """

    def __init__(self, runtime, label, precision, batch, argv, kind="latency", group=None,
                 onednn=None, targets=None, want_logits=False, probe=False, variant=None,
                 repeat_scale=1, site=None):
        self.runtime, self.label, self.precision, self.batch = runtime, label, precision, batch
        self.argv, self.kind = argv, kind
        self.group = group if group is not None else batch
        self.onednn = onednn            # which oneDNN it ran on (a column of the table)
        self.targets = targets or {}    # peer runtime -> max ratio (the goals)
        self.want_logits = want_logits
        self.probe = probe              # timed once up front to fit the budget
        self.variant = variant
        self.repeat_scale = repeat_scale
        self.site = site
        self.rounds = {}                # round -> timing dict
        self.maxrss = []
        self.info = None                # the JSON line of its first recorded run
        self.logits_path = None
        self.na = None                  # reason, once it failed

    @property
    def name(self):
        return self.label

    FIELDS = ("runtime", "label", "precision", "batch", "kind", "group", "onednn", "targets",
              "variant", "site", "info", "na")

    def to_json(self):
        """Everything but the command: another run can rebuild the row (from_json)."""
        return {**{k: getattr(self, k) for k in self.FIELDS},
                "rounds": {str(k): v for k, v in self.rounds.items()}, "maxrss": self.maxrss}

    @classmethod
    def from_json(cls, d, site=None):
        """A row measured elsewhere (argv None: the rounds here do not time it)."""
        row = cls(d["runtime"], d["label"], d["precision"], d["batch"], None, kind=d["kind"],
                  group=d["group"], onednn=d["onednn"], targets=d["targets"],
                  variant=d["variant"], site=site or d.get("site"))
        row.rounds = {int(k): v for k, v in d["rounds"].items()}
        row.maxrss, row.info, row.na = d.get("maxrss", []), d.get("info"), d.get("na")
        return row

    def time(self, repeat, rnd=None, logits_dir=None):
        """One invocation; kept as round rnd (None: a calibration run, not kept).  Returns its
        timing dict, or None when it failed (and self.na says why)."""
        record = rnd is not None
        logits_out = None
        if record and self.want_logits and self.logits_path is None and logits_dir:
            slug = re.sub(r"[^A-Za-z0-9]+", "-", self.label).strip("-")
            logits_out = os.path.join(logits_dir, f"logits-{slug}.f32")
            if os.path.exists(logits_out):
                os.remove(logits_out)
        argv, env = self.argv(max(1, repeat * self.repeat_scale), logits_out)
        r = run(argv, env=env)
        timing = timing_of(r.stdout) if r.rc == 0 else None
        if timing is None:
            self.na = (r.last_error_line() if r.rc != 0
                       else f"no median/min JSON line in: {r.stdout.strip()[:200]}")
            log(f"{self.label}: n/a ({self.na})")
            return None
        if record:
            self.rounds[rnd] = timing
            self.maxrss.append(r.maxrss)
            if self.info is None:
                self.info = timing["info"]
            if logits_out and os.path.exists(logits_out):
                self.logits_path = logits_out
        unit = "ms per frame" if self.kind == "throughput" else "ms"
        log(f"{self.label}{'' if record else ' (calibration)'}: {repeat} runs, "
            f"median {timing['median_ms']:.2f} {unit}, min {timing['min_ms']:.2f}")
        return timing

    def summary(self):
        if self.na or not self.rounds:
            return None
        medians = [r["median_ms"] for r in self.rounds.values()]
        median = median_of(medians)
        per_image = median / self.batch if self.kind == "latency" else median
        return {"median_ms": median,
                "min_ms": min(r["min_ms"] for r in self.rounds.values()),
                "max_ms": max(r.get("max_ms", r["median_ms"]) for r in self.rounds.values()),
                "per_image_ms": per_image,
                "fps": 1e3 / per_image,
                "round_medians_ms": medians,
                # half the range of the round medians, relative to their median
                "spread": (max(medians) - min(medians)) / 2 / median if len(medians) > 1 else None,
                "peak_rss_bytes": max(self.maxrss) if self.maxrss else None}


def per_image(row, rnd):
    t = row.rounds[rnd]["median_ms"]
    return t / row.batch if row.kind == "latency" else t


def peer_rows(rows, row, runtime, precision_map, kind="latency", batch=None):
    """The rows of `runtime` a row is compared with: the one at the mapped precision, or all of
    them for "best"; same batch (or `batch`), plain (no variant) rows only."""
    want = precision_map.get(row.precision)
    b = row.batch if batch is None else batch
    cands = [r for r in rows if r.runtime == runtime and r.kind == kind and r.batch == b
             and r.variant is None and r.site == row.site and not r.na]
    if want == "best":
        return cands
    return [r for r in cands if r.precision == want]


def paired_ratio(row, peers):
    """Median over rounds of row's per-image time / the peers' best per-image time in the same
    round; with the per-round ratios.  (None, []) when they share no round."""
    if row.na or not peers:
        return None, []
    rounds = sorted(set(row.rounds).intersection(*[set(p.rounds) for p in peers]))
    ratios = [per_image(row, r) / min(per_image(p, r) for p in peers) for r in rounds]
    return (median_of(ratios), ratios) if ratios else (None, [])


def plan(args, rows):
    """Fits the timing rounds into about args.budget seconds.  One untimed run of the probe rows
    estimates a forward's time (the slowest counts); the repeat and frame counts are upper
    bounds, lowered (not below 3 at batch 1, 2 at batch 8, 4 frames) when the machine is busy;
    later rounds are dropped if they would not fit either.  Returns (repeat, repeat_b8, frames)."""
    probes = [r for r in rows if r.probe and not r.na and r.argv]
    if not args.budget or not probes:
        return args.repeat, args.repeat_b8, args.frames
    times = [r.time(1) for r in probes]
    times = [t["median_ms"] / 1e3 for t in times if t]
    if not times:
        return args.repeat, args.repeat_b8, args.frames
    t = max(times)
    per_invocation = args.budget / (args.rounds * max(1, len(rows))) - 2   # minus start-up
    repeat = max(3, min(args.repeat, int(per_invocation / t) - 1))        # minus the warm-up
    repeat_b8 = max(2, min(args.repeat_b8, int(per_invocation / (8 * t)) - 1))
    frames = max(4, min(args.frames, int(60 / (2 * t))))
    if (repeat, repeat_b8, frames) != (args.repeat, args.repeat_b8, args.frames):
        log(f"busy machine (up to {t * 1e3:.0f} ms per forward): {repeat} runs at batch 1, "
            f"{repeat_b8} at batch 8, {frames} frames, to stay within --budget {args.budget} s")
    return repeat, repeat_b8, frames


def run_rounds(args, rows, repeat, repeat_b8, logits_dir):
    """Times every row in args.rounds rounds (fewer if --budget runs out); returns the count."""
    groups = sorted({r.group for r in rows if r.argv})
    start, done = time.monotonic(), 0
    for rnd in range(args.rounds):
        elapsed = time.monotonic() - start
        if rnd > 0 and args.budget and elapsed * (rnd + 1) / rnd > args.budget:
            log(f"stopping after {rnd} round(s): another would pass --budget {args.budget} s")
            break
        log(f"round {rnd + 1}/{args.rounds}")
        for g in groups:
            group = [r for r in rows if r.group == g and r.argv]
            k = rnd % len(group)
            for r in group[k:] + group[:k]:    # rotate the order each round
                if not r.na and r.argv:         # (rows measured elsewhere have no command)
                    r.time(repeat if g == 1 else repeat_b8, rnd, logits_dir)
        done += 1
    return done


def logit_check(got, ref, precision):
    """Are these the reference's logits?  f32 within 1e-4 * max(1, max|ref|) (the library's
    parity bar); bf16 (and lower) within 5e-2 of the logits' range (issue 7)."""
    got = np.asarray(got, dtype=np.float32).reshape(ref.shape)
    diff = float(np.abs(got - ref).max())
    top1 = float((got.argmax(1) == ref.argmax(1)).mean())
    if precision == "f32":
        bar = F32_LOGIT_TOL * max(1.0, float(np.abs(ref).max()))
        rule = "max|d| <= 1e-4 * max(1, max|ref|)"
    else:
        bar = BF16_LOGIT_TOL * float(ref.max() - ref.min())
        rule = "max|d| <= 5e-2 * range(ref)"
    return {"status": "pass" if diff <= bar else "fail", "max_abs_diff": diff, "bar": bar,
            "rule": rule, "top1_agreement": top1}


def logit_check_file(row, ref, precision):
    """logit_check on the raw float32 logits a row wrote in its first recorded round."""
    if row is None:
        return {"status": "n/a", "reason": "no such row"}
    if row.na:
        return {"status": "n/a", "reason": row.na}
    if not row.logits_path:
        return {"status": "n/a", "reason": f"{row.label} wrote no logits"}
    got = np.fromfile(row.logits_path, dtype="<f4")
    os.remove(row.logits_path)
    if got.size != ref.size:
        return {"status": "fail", "reason": f"{got.size} logits, expected {ref.size}"}
    return logit_check(got, ref, precision)
