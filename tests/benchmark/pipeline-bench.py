"""Time transformers' pipeline("image-classification") on one image file, end to end: what a
Python user runs (PIL decoding, ConvNextImageProcessor, the PyTorch forward, softmax top-k).
Runs in the benchmark's transformers venv (see families/pipeline.py).

    python pipeline-bench.py --model DIR --image FILE [--repeat N] [--warmup W] [--threads T]

Prints one JSON line with median_ms/min_ms/max_ms (the keys of `convnext-classify --repeat`),
the versions, the processor class and the last call's top-5.
"""
import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    import transformers
    torch.set_num_threads(args.threads)
    pipe = transformers.pipeline("image-classification", model=args.model, device="cpu")
    for _ in range(args.warmup):
        top = pipe(args.image, top_k=5)
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        top = pipe(args.image, top_k=5)
        times.append((time.perf_counter() - t) * 1e3)
    v = sorted(times)
    n = len(v)
    print(json.dumps({
        "runtime": "transformers-pipeline", "transformers": transformers.__version__,
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "processor": type(pipe.image_processor).__name__, "model_class": type(pipe.model).__name__,
        "timed": "pipeline(image file): decode+preprocess+forward+top-k", "repeat": n,
        "median_ms": v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2]),
        "min_ms": v[0], "max_ms": v[-1], "top": top}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:      # one line, as the other runners
        print(f"pipeline-bench: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
