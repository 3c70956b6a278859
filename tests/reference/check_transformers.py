#!/usr/bin/python3
"""transformers as the judge of parity: every fixture checkpoint through transformers' own
ConvNeXt classes and libconvnext, every preprocessing fixture through ConvNextImageProcessor and
libconvnext, every fixture weights file through torch/safetensors and libconvnext's reader.

    bash tests/reference/check_transformers.sh [BUILD_DIR] [--cache DIR] [--only PART,...]

Run by Debian's /usr/bin/python3, it makes two pinned venvs under the cache (see JUDGES) and runs
the parts in them; libconvnext's side comes from BUILD_DIR's tests/reference/convnext-dump (C,
no Python in the product).  Where transformers and the project's transcription
(convnext_torch.py, preprocess_reference.py, which recorded the fixtures) disagree, transformers
is right.  Exit status 0 when everything agrees, 1 when something does not, 77 (skip) when the
judges cannot be installed or convnext-dump is not built.

Parts:
- models: each checkpoint in tests/fixtures/manifest.json (and any other models/*/config.json
  there), tests/element/models/*, examples/models/*: transformers' ConvNext[V2]Model /
  ...ForImageClassification / ...Backbone (from config.json's architectures) loaded with
  from_pretrained, in float32, against libconvnext on the fixture's cases (else a seeded random
  input) and on a photo through ConvNextImageProcessor: logits, pooler_output, every hidden
  state (and feature maps, for backbones), max |Δ| ≤ 1e-4.  The recorded fixture outputs (the
  transcription, float64) against transformers in float64: ≤ 1e-5 · max(1, max|ref|).
- preprocess: each case of tests/fixtures/preprocess/cases.json, the photo or pattern as PIL
  decodes it to RGB (as the pipeline's load_image), cropped to the case's region: the
  processor's pixel_values against libconvnext's, bit for bit; transformers 4.49's
  ConvNextImageProcessor and 5.x's ConvNextImageProcessorPil (the same PIL code; 5.x changed
  the default filter to bicubic, which the C library follows).
- weights: each model.safetensors (safetensors.torch.load_file) and pytorch_model.bin
  (torch.load(weights_only=True)) against what libconvnext's reader returns, tensor by tensor,
  bit for bit after conversion to float32.
"""
import argparse
import copy
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")

# The judges.  4.49.0 is the newest transformers that runs on Debian 12's python3-torch 1.13
# (4.50 imports torch.distributed.tensor, from torch 2.5; 5.x needs torch >= 2.6); the PyPI torch
# wheel for Linux pulls ~3 GB of CUDA libraries.  transformers 5.23's PIL image processor needs
# no torch, so the current release judges the preprocessing too.  Both venvs see Debian's
# python3-torch, numpy and Pillow (--system-site-packages), the versions that recorded the
# fixtures.
JUDGES = {
    "4.49": ["transformers==4.49.0", "huggingface_hub==0.36.2", "tokenizers==0.21.4",
             "safetensors==0.8.0", "regex==2026.11.19", "tqdm==4.70.1", "filelock==4.3.2",
             "fsspec==2026.9.0", "hf-xet==1.8.0"],
    "5.23": ["transformers==5.23.0", "huggingface_hub==2.4.0", "tokenizers==0.23.3",
             "safetensors==0.8.0", "regex==2026.11.19", "tqdm==4.70.1", "filelock==4.3.2",
             "fsspec==2026.9.0", "hf-xet==1.8.0", "typer==0.29.2", "click==8.5.1",
             "rich==15.0.0", "markdown-it-py==4.3.0", "mdurl==0.1.2", "shellingham==1.5.4",
             "annotated-doc==0.0.7", "typing_extensions==4.16.0", "httpx2==2.16.2",
             "httpcore2==2.16.2", "h11==0.16.0", "anyio==4.16.0", "idna==3.20",
             "truststore==0.10.5", "pydantic==2.14.4", "pydantic_core==2.50.5",
             "annotated-types==0.8.0", "typing-inspection==0.4.5"],
}
PARTS = {"models": "4.49", "preprocess": ["4.49", "5.23"], "weights": "4.49"}

C_BAR = 1e-4            # libconvnext f32 vs transformers f32, max |Δ| (issue 21)
TRANSCRIPTION_REL = 1e-5  # recorded fixture (float64 transcription, stored f32) vs transformers f64
PHOTO = os.path.join(ROOT, "tests", "data", "chelsea.png")
SEED = 20261203


# ---- the driver (Debian's python3) ------------------------------------------------------------

def driver(args):
    sys.path.insert(0, os.path.join(ROOT, "tests", "benchmark"))
    from common import pip_venv  # noqa: E402  (the benchmark's pinned-venv helper)

    dump = os.path.join(os.path.abspath(args.build_dir), "tests", "reference", "convnext-dump")
    if not os.access(dump, os.X_OK):
        print(f"SKIP: {dump} not built (meson compile -C {args.build_dir})")
        return 77
    try:
        import torch  # noqa: F401  (Debian's python3-torch, which the venvs see)
    except ImportError:
        print("SKIP: no torch for /usr/bin/python3 (apt-get install python3-torch)")
        return 77
    parts = args.only.split(",") if args.only else list(PARTS)
    pythons = {}
    for judge in sorted({j for p in parts for j in ([PARTS[p]] if isinstance(PARTS[p], str)
                                                    else PARTS[p])}):
        python, info = pip_venv(args.cache, f"transformers-{JUDGES[judge][0].split('==')[1]}",
                                JUDGES[judge], system_site_packages=True)
        if python is None:
            print(f"SKIP: cannot install the judge transformers {judge}: {info}")
            return 77
        print(f"judge: {JUDGES[judge][0]} (venv {info['size_bytes'] / 2**20:.0f} MiB, made in "
              f"{info['install_s']:.0f} s, {info['date']})", flush=True)
        pythons[judge] = python
    failed = 0
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TRANSFORMERS_VERBOSITY": "error", "OMP_NUM_THREADS": "2"}
    for part in parts:
        for judge in [PARTS[part]] if isinstance(PARTS[part], str) else PARTS[part]:
            print(f"\n== {part} (transformers {judge})", flush=True)
            r = subprocess.run([pythons[judge], os.path.abspath(__file__), "--part", part,
                                "--dump", dump, "--judge", judge], env=env)
            failed += r.returncode != 0
    print(f"\n{'FAIL' if failed else 'PASS'}: transformers {'disagrees' if failed else 'agrees'} "
          f"with libconvnext ({failed} of {sum(1 if isinstance(PARTS[p], str) else len(PARTS[p]) for p in parts)} parts failed)")
    return 1 if failed else 0


# ---- the parts (in a judge's venv) -----------------------------------------------------------

class Tally:
    """Largest error per output kind, and the failures, over a part."""

    def __init__(self):
        self.worst = {}
        self.failures = []
        self.judge_errors = []      # inputs transformers itself fails on
        self.not_compared = set()   # outputs libconvnext does not produce yet
        self.refused = []           # checkpoints libconvnext refuses as UNSUPPORTED
        self.notes = []

    def add(self, kind, err, ok, where):
        if kind not in self.worst or err > self.worst[kind][0]:
            self.worst[kind] = (err, where)
        if not ok:
            self.failures.append(f"{where}: {kind} {err:.3g}")

    def report(self, title):
        print(f"largest error per output ({title}):")
        for kind, (err, where) in sorted(self.worst.items()):
            print(f"  {kind:28s} {err:.3g}   ({where})")
        for f in self.failures:
            print(f"  FAIL {f}")
        for e in self.judge_errors:
            print(f"  transformers fails (not judged): {e}")
        for k in sorted(self.not_compared):
            print(f"  not compared (libconvnext has no such output yet): {k}")
        for r in self.refused:
            print(f"  not judged (libconvnext refuses it as UNSUPPORTED): {r}")
        for n in self.notes:
            print(f"  note: {n}")
        return 1 if self.failures else 0


class Unsupported(RuntimeError):
    """libconvnext refuses a valid checkpoint it cannot run yet (CONVNEXT_ERROR_UNSUPPORTED)."""


def run_dump(dump, *argv):
    r = subprocess.run([dump, *argv], capture_output=True, text=True)
    if r.returncode != 0:
        why = r.stderr.strip() or f"convnext-dump exit {r.returncode}"
        raise Unsupported(why) if r.returncode == 3 else RuntimeError(why)


def model_dirs():
    """Every checkpoint: the manifest's models first (with their cases), then any other
    directory with a config.json under the fixtures' models/, tests/element/models, examples/models."""
    with open(os.path.join(FIXTURES, "manifest.json")) as f:
        manifest = json.load(f)
    dirs = [os.path.join(FIXTURES, m["dir"]) for m in manifest["models"]]
    for pattern in ("tests/fixtures/models/*/config.json", "tests/element/models/*/config.json",
                    "examples/models/*/config.json"):
        for cfg in sorted(glob.glob(os.path.join(ROOT, pattern))):
            d = os.path.dirname(cfg)
            if d not in dirs:
                dirs.append(d)
    cases = {}
    for c in manifest["cases"]:
        model = next(m for m in manifest["models"] if m["name"] == c["model"])
        cases.setdefault(os.path.join(FIXTURES, model["dir"]), []).append(c)
    return dirs, cases


def transformers_class(model_dir, cfg):
    """The class config.json's architectures names, else the one its model_type and tensor names
    imply (a classifier when there is classifier.weight)."""
    import transformers
    known = {f"{base}{kind}" for base in ("ConvNext", "ConvNextV2")
             for kind in ("Model", "ForImageClassification", "Backbone")}
    arch = (cfg.get("architectures") or [None])[0]
    if arch in known:
        return getattr(transformers, arch)
    base = "ConvNextV2" if cfg.get("model_type") == "convnextv2" else "ConvNext"
    names = weight_names(model_dir)
    return getattr(transformers, base + ("ForImageClassification" if "classifier.weight" in names
                                         else "Model"))


def weight_names(model_dir):
    """The checkpoint's tensor names, from the file from_pretrained would read."""
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if not os.path.exists(os.path.join(model_dir, "model.safetensors")) and \
                os.path.exists(os.path.join(model_dir, index)):
            with open(os.path.join(model_dir, index)) as f:
                return set(json.load(f)["weight_map"])
    st = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(st):
        from safetensors import safe_open
        with safe_open(st, "pt") as f:
            return set(f.keys())
    import torch
    return set(torch.load(os.path.join(model_dir, "pytorch_model.bin"), map_location="cpu",
                          weights_only=True))


def load_judged(cls, model_dir):
    """cls.from_pretrained(model_dir) in eval mode, and a note when the judge had to help.
    ConvNeXt V2 checkpoints from before mid-2023 name GRN's parameters grn.gamma/grn.beta;
    transformers up to 4.46 renamed every *gamma/*beta key to weight/bias on loading, 4.47 on
    renames LayerNorm.gamma/beta only and leaves GRN at its zero init (GRN then does nothing,
    with a 'newly initialized' warning).  libconvnext reads them as weight/bias, as the older
    loader did and as the checkpoints mean; the judge loads them the same way and says so."""
    import torch
    model = cls.from_pretrained(model_dir).eval()
    sd = {}
    for name in weight_names(model_dir):
        if name.endswith((".grn.gamma", ".grn.beta")):
            sd[name] = None
    if not sd:
        return model, None
    from transformers.modeling_utils import load_state_dict
    files = sorted(glob.glob(os.path.join(model_dir, "*.safetensors"))
                   + glob.glob(os.path.join(model_dir, "*.bin")))
    renamed = {}
    for f in files:
        for k, v in load_state_dict(f).items():
            if k.endswith((".grn.gamma", ".grn.beta")):
                renamed[k.replace(".grn.gamma", ".grn.weight").replace(".grn.beta", ".grn.bias")] = v
    missing, unexpected = model.load_state_dict(renamed, strict=False)
    if unexpected:
        raise RuntimeError(f"grn renaming left keys the model does not have: {unexpected[:3]}")
    return model, (f"{len(renamed)} grn.gamma/grn.beta tensors loaded as grn.weight/grn.bias "
                   "(transformers <= 4.46 did so; 4.47+ leaves GRN at its zero init)")


def transformers_outputs(model, x):
    """{output name: array} of a transformers ConvNeXt model on pixel_values x, named as
    convnext-dump names its files."""
    import torch
    with torch.no_grad():
        out = model(x, output_hidden_states=True)
        res = {}
        if getattr(out, "logits", None) is not None:
            res["logits"] = out.logits
            base = getattr(model, model.base_model_prefix)
            res["pooler_output"] = base(x).pooler_output
        elif getattr(out, "pooler_output", None) is not None:
            res["pooler_output"] = out.pooler_output
        for i, h in enumerate(out.hidden_states):
            res[f"hidden_state_{i}"] = h
        for i, fm in enumerate(getattr(out, "feature_maps", None) or []):
            res[f"feature_map_{i}"] = fm
    return {k: v.numpy() for k, v in res.items()}


def c_outputs(dump, model_dir, x, tmp):
    import numpy as np
    path = os.path.join(tmp, "input.npy")
    np.save(path, np.ascontiguousarray(x, dtype=np.float32))
    out = os.path.join(tmp, "out")
    os.makedirs(out, exist_ok=True)
    for f in glob.glob(os.path.join(out, "*")):
        os.remove(f)
    run_dump(dump, "forward", model_dir, path, out)
    with open(os.path.join(out, "outputs.json")) as f:
        files = json.load(f)["files"]
    return {f[:-4]: np.load(os.path.join(out, f)) for f in files}


def compare_outputs(got, ref, bar_of, tally, where, label, not_produced=()):
    """Max |Δ| per output present in ref; an output missing from got fails, except the kinds
    in not_produced (what convnext-dump cannot give at all yet), which are listed."""
    import numpy as np
    parts, ok_all = [], True
    for name, r in ref.items():
        if name.startswith(tuple(not_produced)) and not any(g.startswith(tuple(not_produced))
                                                            for g in got):
            parts.append(f"{name} not produced by libconvnext")
            tally.not_compared.add(f"{label} {name.rstrip('0123456789').rstrip('_')}")
            continue
        kind = name.rstrip("0123456789").rstrip("_") if name.startswith(("hidden", "feature")) else name
        if name not in got:
            tally.add(f"{label} {kind}", float("inf"), False, f"{where} {name} missing")
            parts.append(f"{name} missing")
            ok_all = False
            continue
        g = got[name]
        if g.shape != r.shape:
            tally.add(f"{label} {kind}", float("inf"), False, f"{where} {name} shape {g.shape} vs {r.shape}")
            parts.append(f"{name} shape {g.shape} vs {r.shape}")
            ok_all = False
            continue
        err = float(np.abs(g.astype(np.float64) - r.astype(np.float64)).max()) if r.size else 0.0
        ok = err <= bar_of(r)
        ok_all &= ok
        tally.add(f"{label} {kind}", err, ok, f"{where} {name}")
        parts.append(f"{name} {err:.1e}" + ("" if ok else " FAIL"))
    return ok_all, ", ".join(parts)


def quiet_transformers():
    import transformers
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def part_models(args):
    import numpy as np
    import torch
    from PIL import Image
    transformers = quiet_transformers()

    torch.set_num_threads(2)
    tally = Tally()
    dirs, cases = model_dirs()
    with tempfile.TemporaryDirectory(prefix="check-transformers-") as tmp:
        for d in dirs:
            rel = os.path.relpath(d, ROOT)
            with open(os.path.join(d, "config.json")) as f:
                cfg = json.load(f)
            try:
                cls = transformers_class(d, cfg)
                model, note = load_judged(cls, d)
                model64 = copy.deepcopy(model).double()
            except Exception as e:   # a checkpoint transformers refuses is a finding too
                tally.add("load", float("inf"), False, f"{rel}: transformers: {e}")
                print(f"{rel}: transformers cannot load it: {e}")
                continue
            if note:
                tally.notes.append(f"{rel}: {note}")
            inputs = []
            for c in cases.get(d, []):
                inputs.append((c["name"], np.load(os.path.join(FIXTURES, c["input"])), c))
            if not inputs:
                gen = np.random.default_rng(SEED)
                size = min(int(cfg.get("image_size", 64)), 96)
                inputs.append((f"random-2x{size}x{size}", gen.standard_normal(
                    (2, int(cfg.get("num_channels", 3)), size, size)).astype(np.float32), None))
            if os.path.exists(os.path.join(d, "preprocessor_config.json")) \
                    and int(cfg.get("num_channels", 3)) == 3:
                proc = transformers.ConvNextImageProcessor.from_pretrained(d)
                photo = np.array(Image.open(PHOTO).convert("RGB"))
                inputs.append(("photo chelsea.png", proc(photo, return_tensors="np")["pixel_values"],
                               None))
            print(f"{rel} ({cls.__name__}):")
            c_runs = True
            for name, x, case in inputs:
                where = f"{rel} {name}"
                if case is not None:
                    # The transcription's recorded outputs against transformers in float64.
                    ref64 = transformers_outputs(model64, torch.from_numpy(x).double())
                    recorded = {}
                    for key in ("logits", "pooler_output"):
                        if case.get(key):
                            recorded[key] = np.load(os.path.join(FIXTURES, case[key]))
                    for i, p in enumerate(case.get("hidden_states") or []):
                        recorded[f"hidden_state_{i}"] = np.load(os.path.join(FIXTURES, p))
                    for i, p in enumerate(case.get("feature_maps") or []):
                        recorded[f"feature_map_{i}"] = np.load(os.path.join(FIXTURES, p))
                    ok, text = compare_outputs(
                        ref64, recorded,
                        lambda r: TRANSCRIPTION_REL * max(1.0, float(np.abs(r).max())),
                        tally, where, "fixture")
                    print(f"  {name}: recorded fixture vs transformers f64: {text}")
                if not c_runs:
                    continue
                ref = transformers_outputs(model, torch.from_numpy(x))
                try:
                    got = c_outputs(args.dump, d, x, tmp)
                except Unsupported as e:
                    tally.refused.append(f"{rel}: {str(e)[:200]}")
                    print(f"  {name}: libconvnext refuses it (UNSUPPORTED): {e}")
                    c_runs = False
                    continue
                except RuntimeError as e:
                    tally.add("libconvnext", float("inf"), False, f"{where}: {e}")
                    print(f"  {name}: libconvnext fails: {e}")
                    continue
                ok, text = compare_outputs(got, ref, lambda r: C_BAR, tally, where, "C",
                                           not_produced=("feature_map",))
                print(f"  {name}: libconvnext vs transformers f32: {text}")
    return tally.report(f"libconvnext vs transformers {transformers.__version__}, bar {C_BAR:g}; "
                        f"fixture vs transformers f64, bar {TRANSCRIPTION_REL:g}·max(1,|ref|)")


def part_preprocess(args):
    import numpy as np
    from PIL import Image
    transformers = quiet_transformers()

    if hasattr(transformers, "ConvNextImageProcessorPil"):    # transformers 5: the PIL backend
        cls = transformers.ConvNextImageProcessorPil
    else:
        cls = transformers.ConvNextImageProcessor
    pre_dir = os.path.join(FIXTURES, "preprocess")
    with open(os.path.join(pre_dir, "cases.json")) as f:
        cases = json.load(f)["cases"]
    tally = Tally()
    n_exact = n_judged = 0
    with tempfile.TemporaryDirectory(prefix="check-transformers-") as tmp:
        for c in cases:
            config_dir = os.path.join(pre_dir, "configs", c["config"])
            has_config = os.path.exists(os.path.join(config_dir, "preprocessor_config.json"))
            if not has_config and int(transformers.__version__.split(".")[0]) < 5:
                # 4.x's ConvNextImageProcessor defaulted to BILINEAR; 5.x (and libconvnext)
                # to BICUBIC: the 5.x judge decides this case
                print(f"  {c['name']}: not judged by {transformers.__version__} (its default "
                      "resample is BILINEAR, 5.x's BICUBIC)")
                continue
            proc = cls.from_pretrained(config_dir) if has_config else cls()
            rgb = np.array(Image.open(os.path.join(ROOT, c["input"])).convert("RGB"))
            crop = rgb
            roi = c.get("roi")
            if roi:
                x, y, w, h = roi
                crop = rgb[y:y + h, x:x + w]
            # channels_last said explicitly: transformers guesses the layout of an HWC array from
            # its shape, and takes a 3-row image (tiny-5x3) for channels-first
            try:
                ref = proc(crop, return_tensors="np", input_data_format="channels_last")[
                    "pixel_values"].astype(np.float32)
            except Exception as e:    # the judge's own bug: said, not held against libconvnext
                tally.judge_errors.append(f"{c['name']}: {type(e).__name__}: {e}")
                continue
            raw = os.path.join(tmp, "image.rgb")
            np.ascontiguousarray(rgb).tofile(raw)
            out = os.path.join(tmp, "pv.npy")
            argv = ["preprocess", config_dir, raw, str(rgb.shape[1]), str(rgb.shape[0]), out]
            try:
                run_dump(args.dump, *argv, *[str(v) for v in roi or []])
            except RuntimeError as e:
                tally.add("pixel_values", float("inf"), False, f"{c['name']}: {e}")
                continue
            got = np.load(out)
            n_judged += 1
            if got.shape != ref.shape:
                tally.add("pixel_values", float("inf"), False,
                          f"{c['name']}: shape {got.shape} vs {ref.shape}")
                continue
            err = float(np.abs(got - ref).max())
            exact = np.array_equal(got, ref)
            n_exact += exact
            tally.add("pixel_values", err, exact, c["name"])
            if not exact:
                print(f"  {c['name']}: {int((got != ref).sum())} of {ref.size} values differ, "
                      f"max |Δ| {err:.3g}")
            if c.get("float32"):     # the transcription's recorded float32 pixel_values
                rec = np.fromfile(os.path.join(pre_dir, c["float32"]), "<f4").reshape(ref.shape)
                tally.add("fixture pixel_values", float(np.abs(rec - ref).max()),
                          np.array_equal(rec, ref), c["name"])
    print(f"{n_exact} of {n_judged} judged cases ({len(cases)} in all) bit-exact ({cls.__name__}, transformers "
          f"{transformers.__version__})")
    return tally.report(f"libconvnext vs {cls.__name__}, bit-exact")


TORCH_DTYPES = {"torch.float32": "F32", "torch.float16": "F16", "torch.bfloat16": "BF16"}
PROBE = """
import json, resource, sys, torch
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
for path in sys.argv[1:]:
    print(json.dumps({"path": path}), flush=True)     # a child that dies here names the file
    try:
        torch.load(path, map_location="cpu", weights_only=True)
        why = None
    except Exception as e:
        why = (f"{type(e).__name__}: {e}".splitlines() or [""])[0][:300]
    print(json.dumps({"path": path, "why": why}), flush=True)
"""


def probe_torch_load(paths):
    """{path: None (loads) or why torch.load(weights_only=True) refuses}, each file loaded in a
    child with a 4 GiB address-space cap and a time limit (pickle bombs); a child that dies or
    hangs counts as a refusal of that file, and the next child goes on with the rest."""
    result, todo = {}, list(paths)
    while todo:
        try:
            r = subprocess.run([sys.executable, "-c", PROBE, *todo], capture_output=True,
                               text=True, timeout=60 + 10 * len(todo))
            out, died = r.stdout, f"the loading process died (exit {r.returncode})"
        except subprocess.TimeoutExpired as e:
            out, died = (e.stdout or b"").decode(errors="replace"), "torch.load did not finish"
        last = None
        for line in out.splitlines():
            obj = json.loads(line)
            if "why" in obj:
                result[obj["path"]] = obj["why"]
            last = obj["path"]
        if last is not None and last not in result:
            result[last] = died
        todo = [p for p in todo if p not in result]
        if todo and last is None:           # nothing at all: give up on the first
            result[todo.pop(0)] = died
    return result


def torch_tensors(path, refusals):
    """What PyTorch makes of a weights file: ({name: tensor}, None) or (None, why it refuses).
    .bin files go through torch.load(weights_only=True); refusals has the result of
    probe_torch_load for the hostile ones (not loaded here when they are refused)."""
    import torch
    from safetensors.torch import load_file
    try:
        if path.endswith(".index.json"):
            with open(path) as f:
                weight_map = json.load(f)["weight_map"]
            out = {}
            for shard in sorted(set(weight_map.values())):
                sd, why = torch_tensors(os.path.join(os.path.dirname(path), shard), refusals)
                if sd is None:
                    return None, f"{shard}: {why}"
                out.update({k: v for k, v in sd.items() if weight_map.get(k) == shard})
            return out, None
        if path.endswith(".safetensors"):
            return load_file(path), None
        if refusals.get(path):
            return None, refusals[path]
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        return None, f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        return None, f"not a state dict of tensors ({type(sd).__name__})"
    return sd, None


def part_weights(args):
    """Every weights file: PyTorch's reading (safetensors, torch.load(weights_only=True)) against
    libconvnext's checkpoint reader, tensor by tensor; and who refuses what."""
    import numpy as np
    import torch

    hostile_dir = os.path.join(FIXTURES, "hostile")
    expected = {}
    if os.path.exists(os.path.join(hostile_dir, "manifest.json")):
        with open(os.path.join(hostile_dir, "manifest.json")) as f:
            expected = {c["file"]: c["code"] for c in json.load(f)["cases"]}
    files = []
    for pattern in ("tests/fixtures/**/*.safetensors", "tests/fixtures/**/*.bin",
                    "tests/fixtures/**/*.index.json", "tests/element/models/*/*.safetensors",
                    "tests/element/models/*/*.bin", "examples/models/*/*.safetensors"):
        files += glob.glob(os.path.join(ROOT, pattern), recursive=True)
    tally = Tally()
    refusals = []
    with tempfile.TemporaryDirectory(prefix="check-transformers-") as tmp:
        marker = os.path.join(tmp, "MARKER")     # the hostile pickles' payload would write it
        os.environ["CONVNEXT_MARKER"] = marker
        out = os.path.join(tmp, "out")
        probed = probe_torch_load(sorted(p for p in set(files) if os.path.dirname(p) == hostile_dir
                                         and p.endswith(".bin")))
        for path in sorted(set(files)):
            rel = os.path.relpath(path, ROOT)
            hostile = os.path.dirname(path) == hostile_dir
            sd, torch_why = torch_tensors(path, probed)
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            r = subprocess.run([args.dump, "tensors", path, out], capture_output=True, text=True,
                               timeout=120)
            c_why = None if r.returncode == 0 else (r.stderr.strip() or f"exit {r.returncode}")
            code = {0: "ok", 3: "UNSUPPORTED"}.get(r.returncode, "INVALID_WEIGHTS")
            if sd is None or c_why is not None:
                # Refusals: both refusing agrees; libconvnext refusing what PyTorch loads is
                # right only where the hostile manifest says so (legacy format, float64...);
                # libconvnext loading what PyTorch's safe loader refuses is wrong.
                agree = sd is None and c_why is not None
                deliberate = hostile and expected.get(os.path.basename(path)) == code
                ok = agree or (c_why is not None and deliberate)
                refusals.append(f"{rel}: torch {'refuses (' + torch_why + ')' if sd is None else 'loads it'}"
                                f"; libconvnext {'refuses (' + c_why[:160] + ')' if c_why else 'loads it'}"
                                + ("" if ok else "  <- FAIL"))
                tally.add("refusals", 0.0 if ok else 1.0, ok, rel)
                continue
            with open(os.path.join(out, "tensors.json")) as f:
                got = {t["name"]: t for t in json.load(f)}
            bad = sorted(set(sd) ^ set(got))
            for name in sorted(set(sd) & set(got)):
                ref = sd[name]
                t = got[name]
                c = np.load(os.path.join(out, t["file"]))
                if TORCH_DTYPES.get(str(ref.dtype)) != t["dtype"] or list(c.shape) != list(ref.shape) \
                        or not np.array_equal(c, ref.to(torch.float32).numpy(), equal_nan=True):
                    bad.append(name)
            kind = ("index" if path.endswith(".index.json") else os.path.splitext(path)[1][1:])
            tally.add(f"{kind} tensors differing", float(len(bad)), not bad, rel)
            views = sum(not t["contiguous"] for t in got.values())
            print(f"{rel}: {len(sd) - len(bad)} of {len(sd)} tensors identical"
                  + (f" ({views} strided views)" if views else "")
                  + ("" if not bad else ": differ or missing: " + ", ".join(bad[:5])))
        print("refused by one or both:")
        for line in refusals:
            print(f"  {line}")
        if os.path.exists(marker):
            tally.add("hostile payload ran", 1.0, False, marker)
    return tally.report("weights readers: PyTorch against libconvnext")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build_dir", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--cache", default=os.environ.get("CONVNEXT_REFERENCE_CACHE", os.path.join(
        os.path.expanduser("~"), ".cache", "convnext-reference")),
        help="where the judges' venvs are kept (default $CONVNEXT_REFERENCE_CACHE or "
             "~/.cache/convnext-reference)")
    ap.add_argument("--only", help="comma-separated parts: " + ", ".join(PARTS))
    ap.add_argument("--part", help=argparse.SUPPRESS)
    ap.add_argument("--dump", help=argparse.SUPPRESS)
    ap.add_argument("--judge", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.part:
        return {"models": part_models, "preprocess": part_preprocess,
                "weights": part_weights}[args.part](args)
    return driver(args)


if __name__ == "__main__":
    sys.exit(main())
