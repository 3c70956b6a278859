#!/usr/bin/python3
"""Soak: a live 1080p pipeline through convnextclassify for a long time, its resident memory sampled.

    /usr/bin/python3 tests/soak/soak.py [--minutes 30] [--interval 60] [--model DIR] [--out FILE.json]
    meson test -C build --suite soak        (with -Dslow_tests=true; 30 minutes)

Runs, as one gst-launch-1.0 process from the build tree (GST_PLUGIN_PATH set by meson devenv or
the test environment):

    videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=1920,height=1080,framerate=30/1
      ! convnextclassify post-messages=true [model=DIR] ! fakesink sync=true

or, with --roi PHOTO, per-object classification behind upstream's facedetect on a live still:

    filesrc location=PHOTO ! pngdec ! imagefreeze is-live=true ! video/x-raw,framerate=10/1
      ! videoconvert ! facedetect display=false ! videoconvert
      ! convnextclassify inference-region=roi-list object-class=face post-messages=true ! fakesink sync=true

(the objects counted from the messages too), and reads VmRSS from /proc every --interval seconds.  The first sample is taken one interval in,
after the network is built.  Prints one line per sample and a summary: the least-squares slope of
RSS over time in KiB per minute, RSS at the first and last sample, the frames classified (the
element's bus messages, counted from gst-launch -m) and the rendered frame rate.  Fails (exit 1)
when the pipeline errors or stops early, or when RSS grows by more than --max-growth MiB between the
first and the last sample (default 16: one 1080p I420 frame is 3 MiB; a leak of one small allocation
per frame over 30 minutes at 30 fps would be 54,000 of them).  --out writes every sample as JSON.
Run it on a quiet machine, or at nice 19 and say so: it measures memory, not speed.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def slope(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--interval", type=float, default=60, help="seconds between RSS samples")
    ap.add_argument("--model", help="checkpoint directory (default: the element's default model)")
    ap.add_argument("--out", help="write the samples and the summary as JSON here")
    ap.add_argument("--max-growth", type=float, default=16, help="MiB of RSS growth that fails the run")
    ap.add_argument("--extra", default="", help="more convnextclassify properties, e.g. 'threads=2'")
    ap.add_argument("--roi", metavar="PHOTO", help="a PNG with faces: classify each face facedetect "
                    "finds (inference-region=roi-list) instead of the 1080p frames")
    args = ap.parse_args()

    classify = "convnextclassify post-messages=true" + (f" model={args.model}" if args.model else "")
    if args.roi:
        classify += " inference-region=roi-list object-class=face"
    if args.extra:
        classify += " " + args.extra
    if args.roi:
        source = (f"filesrc location={args.roi} ! pngdec ! imagefreeze is-live=true "
                  "! video/x-raw,framerate=10/1 ! videoconvert ! facedetect display=false "
                  "! videoconvert")
    else:
        source = ("videotestsrc is-live=true pattern=ball "
                  "! video/x-raw,format=I420,width=1920,height=1080,framerate=30/1")
    pipeline = f"{source} ! {classify} ! fakesink sync=true"
    cmd = ["gst-launch-1.0", "-m", "-e"] + pipeline.split()
    print("+ " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)

    counts = {"results": 0, "objects": 0, "last_frame": -1, "errors": [], "warnings": []}
    frame_re = re.compile(r"frame-number=\(guint64\)(\d+)")

    def reader():
        for line in proc.stdout:
            if "convnext-classification" in line:
                counts["results"] += 1
                counts["objects"] += line.count("roi-id")   # one per object (escaped in the array)
                m = frame_re.search(line)
                if m:
                    counts["last_frame"] = int(m.group(1))
            elif "ERROR" in line and "from element" in line:
                counts["errors"].append(line.strip())
            elif "WARNING" in line and "from element" in line:
                counts["warnings"].append(line.strip())

    t = threading.Thread(target=reader, daemon=True)
    t.start()

    start = time.monotonic()
    samples = []
    total = args.minutes * 60
    next_at = args.interval
    while next_at <= total + 1e-6:
        while time.monotonic() - start < next_at:
            if proc.poll() is not None:
                break
            time.sleep(min(1.0, next_at - (time.monotonic() - start)))
        if proc.poll() is not None:
            break
        elapsed = time.monotonic() - start
        kib = rss_kib(proc.pid)
        samples.append({"seconds": round(elapsed, 1), "rss_kib": kib, "results": counts["results"],
                        "objects": counts["objects"], "last_frame": counts["last_frame"]})
        print(f"{elapsed / 60:6.1f} min  RSS {kib / 1024:8.1f} MiB  {counts['results']} results "
              f"{'(%d objects) ' % counts['objects'] if args.roi else ''}"
              f"(last frame {counts['last_frame']})", flush=True)
        next_at += args.interval

    early = proc.poll() is not None
    if not early:
        proc.send_signal(signal.SIGINT)  # -e: EOS, then exit
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    t.join(timeout=5)

    ok = not early and not counts["errors"] and len(samples) >= 2
    if args.roi and counts["objects"] == 0:
        print("FAIL: no object was classified (no face found in %s?)" % args.roi)
        ok = False
    summary = {"pipeline": pipeline, "minutes": args.minutes, "interval_s": args.interval,
               "samples": samples, "errors": counts["errors"], "warnings": counts["warnings"][:10]}
    if len(samples) >= 2:
        xs = [s["seconds"] / 60 for s in samples]
        ys = [s["rss_kib"] for s in samples]
        growth_mib = (ys[-1] - ys[0]) / 1024
        fps = (samples[-1]["results"] - samples[0]["results"]) / (samples[-1]["seconds"] - samples[0]["seconds"])
        summary.update({"slope_kib_per_min": round(slope(xs, ys), 2), "first_rss_mib": round(ys[0] / 1024, 1),
                        "last_rss_mib": round(ys[-1] / 1024, 1), "max_rss_mib": round(max(ys) / 1024, 1),
                        "growth_mib": round(growth_mib, 2), "results_per_s": round(fps, 2)})
        print(f"slope {summary['slope_kib_per_min']:+.1f} KiB/min over {xs[-1] - xs[0]:.1f} min; RSS "
              f"{summary['first_rss_mib']} -> {summary['last_rss_mib']} MiB (max {summary['max_rss_mib']}); "
              f"{summary['results_per_s']} results/s")
        ok = ok and growth_mib <= args.max_growth
    if early:
        print("FAIL: gst-launch-1.0 stopped early (exit %s)" % proc.returncode)
    for e in counts["errors"]:
        print("FAIL: " + e)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=1)
    print("ok" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
