"""The tables (plain text on stdout, Markdown in results.md) and the rows of results.json."""
from rounds import OPENVINO_PEER, ORT_PEER, paired_ratio, peer_rows

PEERS = {"onnxruntime": ("ORT", ORT_PEER), "openvino": ("OV", OPENVINO_PEER)}


def fmt(v, spec=".2f"):
    return "n/a" if v is None else format(v, spec)


def ratio_cell(ratio, ratios):
    """'0.713' or, over several rounds, '0.713 (0.70-0.75)': the median and range of the
    per-round ratios."""
    if ratio is None:
        return "n/a"
    if len(ratios) < 2:
        return f"{ratio:.3f}"
    return f"{ratio:.3f} ({min(ratios):.2f}-{max(ratios):.2f})"


def judge(row, ratios):
    """The row's goals (peer -> max ratio) against its paired ratios: (goal text, result)."""
    if not row.targets:
        return "-", "-"
    goal = ", ".join(f"{PEERS[p][0]} <= {t:.2f}" for p, t in row.targets.items())
    missing = [PEERS[p][0] for p in row.targets if ratios.get(p) is None]
    if missing:
        return goal, "n/a (" + ", ".join(missing) + ")"
    failed = [PEERS[p][0] for p, t in row.targets.items() if ratios[p] > t]
    return goal, "pass" if not failed else "FAIL (" + ", ".join(failed) + ")"


def latency_rows(ctx):
    """One dict per latency row: its summary, its paired ratios to ONNX Runtime f32 and to
    OpenVINO at the same precision and batch, and its goals."""
    out = []
    for g in sorted({r.group for r in ctx.rows}):
        for row in [r for r in ctx.rows if r.group == g and r.kind == "latency"]:
            s = row.summary()
            ratios, per_round, min_ratios = {}, {}, {}
            for peer, (_, pmap) in PEERS.items():
                peers = peer_rows(ctx.rows, row, peer, pmap)
                ratios[peer], per_round[peer] = paired_ratio(row, peers)
                ps = [p.summary() for p in peers]
                min_ratios[peer] = (s["min_ms"] / min(p["min_ms"] for p in ps)
                                    if s and ps and all(ps) else None)
            goal, result = judge(row, ratios)
            out.append({"config": row.label, "runtime": row.runtime, "precision": row.precision,
                        "batch": row.batch, "variant": row.variant, "onednn": row.onednn,
                        **(s or {"median_ms": None, "min_ms": None, "per_image_ms": None,
                                 "spread": None}),
                        "ratio_to_ort_f32": ratios["onnxruntime"],
                        "round_ratios_to_ort_f32": per_round["onnxruntime"],
                        "min_ratio_to_ort_f32": min_ratios["onnxruntime"],
                        "ratio_to_openvino": ratios["openvino"],
                        "round_ratios_to_openvino": per_round["openvino"],
                        "min_ratio_to_openvino": min_ratios["openvino"],
                        "targets": row.targets, "goal": goal, "result": result,
                        "info": row.info, "na_reason": row.na})
    return out


def throughput_rows(ctx):
    """Frames per second: OpenVINO's throughput mode against the batch-8 rows of libconvnext
    (and of OpenVINO's latency mode), each as a paired ratio of fps to OpenVINO throughput at
    the same precision (> 1: faster than OpenVINO)."""
    out = []
    tput = [r for r in ctx.rows if r.kind == "throughput"]
    b8 = [r for r in ctx.rows if r.kind == "latency" and r.batch == 8
          and r.runtime in ("libconvnext", "openvino")]
    for row in tput + b8:
        s = row.summary()
        peers = peer_rows(ctx.rows, row, "openvino", OPENVINO_PEER, kind="throughput", batch=1)
        ratio, ratios = paired_ratio(row, peers)       # time ratio: row / OpenVINO
        fps_ratio = None if ratio is None else 1 / ratio
        fps_ratios = [1 / r for r in ratios]
        goal = result = "-"
        if row.runtime == "libconvnext" and row.variant is None:
            goal = "OV throughput >= 1.00"
            result = "n/a" if fps_ratio is None else ("pass" if fps_ratio >= 1 else "FAIL")
        out.append({"config": row.label if row.kind == "throughput" else f"{row.label} (latency)",
                    "runtime": row.runtime, "precision": row.precision, "kind": row.kind,
                    "batch": row.batch, "variant": row.variant,
                    "fps": s["fps"] if s else None, "spread": s["spread"] if s else None,
                    "fps_ratio_to_openvino_throughput": fps_ratio,
                    "round_fps_ratios": fps_ratios, "goal": goal, "result": result,
                    "na_reason": row.na})
    return out


def end_to_end_rows(ctx):
    """One image from its file to its top-5: each row as a paired ratio to convnext-classify f32
    on the same file (the transformers pipeline's is the factor the README gives)."""
    rows = [r for r in ctx.rows if r.kind == "end_to_end"]
    base = [r for r in rows if r.runtime == "libconvnext" and r.precision == "f32" and not r.na]
    out = []
    for row in rows:
        s = row.summary()
        ratio, ratios = paired_ratio(row, base)
        out.append({"config": row.label, "runtime": row.runtime, "precision": row.precision,
                    "onednn": row.onednn, **(s or {"median_ms": None, "min_ms": None,
                                                   "spread": None}),
                    "ratio_to_convnext_classify_f32": ratio, "round_ratios": ratios,
                    "info": row.info, "na_reason": row.na})
    return out


def render(head, body, right, markdown):
    """A plain-text or Markdown table; columns in `right` are right-aligned."""
    if markdown:
        rule = ["---:" if i in right else "---" for i in range(len(head))]
        return ["| " + " | ".join(r) + " |" for r in [head, rule] + body]
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    fmt_row = lambda r: "  ".join(c.rjust(w) if i in right else c.ljust(w)
                                  for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    return [fmt_row(head), fmt_row(["-" * w for w in widths])] + [fmt_row(r) for r in body]


def spread_cell(s):
    return "-" if s is None else f"±{100 * s:.1f}%"


def table_lines(latency, throughput, end_to_end, extras, tables=(), markdown=False):
    lat = [[r["config"], r["onednn"] or "-", fmt(r["median_ms"]), spread_cell(r["spread"]),
            fmt(r["min_ms"]), fmt(r["per_image_ms"]),
            ratio_cell(r["ratio_to_ort_f32"], r["round_ratios_to_ort_f32"]),
            ratio_cell(r["ratio_to_openvino"], r["round_ratios_to_openvino"]),
            r["goal"], r["result"]] for r in latency]
    tput = [[r["config"], fmt(r["fps"], ".1f"), spread_cell(r["spread"]),
             ratio_cell(r["fps_ratio_to_openvino_throughput"], r["round_fps_ratios"]),
             r["goal"], r["result"]] for r in throughput]
    other = [[e["name"], e["value"], e["target"], e["result"]] for e in extras]
    lines = render(["configuration", "oneDNN", "median ms", "spread", "min ms", "per-image ms",
                    "x ORT f32", "x OpenVINO", "goal", "result"], lat, {2, 3, 4, 5, 6, 7}, markdown)
    if tput:
        lines += [""] + render(["frames per second", "fps", "spread",
                                "fps / OpenVINO throughput", "goal", "result"],
                               tput, {1, 2, 3}, markdown)
    e2e = [[r["config"], r["onednn"] or "-", fmt(r["median_ms"]), spread_cell(r["spread"]),
            fmt(r["min_ms"]), ratio_cell(r["ratio_to_convnext_classify_f32"], r["round_ratios"])]
           for r in end_to_end]
    if e2e:
        lines += [""] + render(["one image, file to top-5", "oneDNN", "median ms", "spread",
                                "min ms", "x convnext-classify f32"], e2e, {2, 3, 4, 5}, markdown)
    for t in tables:          # the families' own (families/*.py tables())
        title = f"**{t['title']}**" if markdown else f"{t['title']}:"
        lines += ["", title] + ([""] if markdown else [])
        lines += render(t["head"], t["rows"], set(t.get("right", [])), markdown)
    return lines + [""] + render(["check", "value", "target", "result"], other, {1}, markdown)


def logit_notes(checks):
    notes = []
    for name, chk in checks.items():
        if "max_abs_diff" not in chk:
            notes.append(f"- {name}: {chk.get('status')} ({chk.get('reason')})")
        else:
            notes.append(f"- logits {name} vs PyTorch: {chk['status']}, "
                         f"max|d| {chk['max_abs_diff']:.2e} ({chk['rule']} = {chk['bar']:.2e}), "
                         f"top-1 agreement {chk['top1_agreement']:.0%}")
    return notes
