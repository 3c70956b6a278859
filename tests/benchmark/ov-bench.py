"""Time OpenVINO (pip `openvino`, CPU plugin) on the benchmark's ONNX export, as DL Streamer runs
it.  Runs in the benchmark's OpenVINO venv (see families/openvino.py).

    python ov-bench.py --model M.onnx --input X.npy --precision f32|bf16 [--repeat N]
        [--warmup W] [--threads T] [--logits-out FILE.f32]
        [--mode latency | throughput --streams S --nireq R]

latency: the model reshaped to X's static shape, compiled with PERFORMANCE_HINT LATENCY,
NUM_STREAMS 1, INFERENCE_NUM_THREADS T, INFERENCE_PRECISION_HINT; W warm-up then N timed
synchronous infer() calls.  Prints one JSON line with median_ms/min_ms/max_ms (the keys of
`convnext-classify --repeat`).
throughput: PERFORMANCE_HINT THROUGHPUT with S streams sharing the T threads and R infer
requests kept in flight (AsyncInferQueue, as DL Streamer's nireq), each on X's batch; N frames
after a warm-up of 2 R requests.  The completion times, from the first on, are cut into windows of 8 frames;
median_ms/min_ms/max_ms are ms per frame over those windows, fps = 1000 / median_ms.
Both report what OpenVINO compiled for: the INFERENCE_PRECISION_HINT it kept, and the runtime
precision of its convolutions and matmuls (the runtime model's rt_info).
--logits-out writes the last output (latency mode) as raw little-endian float32.
"""
import argparse
import collections
import json
import sys
import time

import numpy as np
import openvino as ov

WINDOW = 8


def runtime_precisions(compiled):
    """{layer type: {precision: count}} of the compiled graph's convolutions and matmuls (what
    decides speed), from the CPU plugin's runtime model."""
    counts = collections.defaultdict(collections.Counter)
    for node in compiled.get_runtime_model().get_ops():
        rt = node.get_rt_info()
        kind = rt["layerType"].astype(str) if "layerType" in rt else node.get_type_name()
        if kind in ("Convolution", "FullyConnected", "MatMul") and "runtimePrecision" in rt:
            counts[kind][rt["runtimePrecision"].astype(str)] += 1
    return {k: dict(v) for k, v in sorted(counts.items())}


def summary(values):
    v = sorted(values)
    n = len(v)
    median = v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])
    return {"median_ms": median, "min_ms": v[0], "max_ms": v[-1]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mode", choices=["latency", "throughput"], default="latency")
    ap.add_argument("--streams", type=int, default=2)
    ap.add_argument("--nireq", type=int, default=4)
    ap.add_argument("--logits-out")
    args = ap.parse_args()

    x = np.load(args.input)
    core = ov.Core()
    model = core.read_model(args.model)
    model.reshape(list(x.shape))        # a static shape, as DL Streamer compiles
    config = {"INFERENCE_NUM_THREADS": str(args.threads),
              "INFERENCE_PRECISION_HINT": args.precision}
    if args.mode == "latency":
        config.update({"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1"})
    else:
        config.update({"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(args.streams)})
    t0 = time.perf_counter()
    compiled = core.compile_model(model, "CPU", config)
    compile_ms = (time.perf_counter() - t0) * 1e3
    info = {"runtime": "openvino", "version": ov.get_version(), "mode": args.mode,
            "batch": int(x.shape[0]), "threads": args.threads, "precision": args.precision,
            "compiled_precision": compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name(),
            "num_streams": int(compiled.get_property("NUM_STREAMS")),
            "inference_num_threads": int(compiled.get_property("INFERENCE_NUM_THREADS")),
            "runtime_precisions": runtime_precisions(compiled),
            "compile_ms": compile_ms, "repeat": args.repeat}

    if args.mode == "latency":
        request = compiled.create_infer_request()
        for _ in range(args.warmup):
            request.infer({0: x})
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            request.infer({0: x})
            times.append((time.perf_counter() - t) * 1e3)
        if args.logits_out:
            np.ascontiguousarray(request.get_output_tensor(0).data, dtype="<f4").tofile(
                args.logits_out)
        info.update(summary(times))
        info["times_ms"] = times
    else:
        done = []
        queue = ov.AsyncInferQueue(compiled, args.nireq)
        queue.set_callback(lambda request, userdata: done.append(time.perf_counter()))
        for _ in range(2 * args.nireq):
            queue.start_async({0: x})
        queue.wait_all()
        frames = max(2 * WINDOW + 1, args.repeat)
        done.clear()
        t0 = time.perf_counter()
        for _ in range(frames):
            queue.start_async({0: x})
        queue.wait_all()
        done.sort()
        # windows start at the first completion: the pipeline's fill is not throughput
        per_frame = [(done[i + WINDOW] - done[i]) * 1e3 / (WINDOW * x.shape[0])
                     for i in range(0, len(done) - WINDOW, WINDOW)]
        info.update(summary(per_frame))
        info.update({"nireq": args.nireq, "frames": frames * int(x.shape[0]),
                     "fps": 1e3 / info["median_ms"],
                     "overall_fps": frames * x.shape[0] / (done[-1] - t0)})
    print(json.dumps(info))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:      # one line, as the other runners
        print(f"ov-bench: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
