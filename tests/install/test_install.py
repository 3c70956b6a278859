#!/usr/bin/python3
"""The project as a distribution would package it: `meson install --destdir` into a temporary
directory, then, using only what was installed there,
- an out-of-tree C program (consumer.c) built with `pkg-config --cflags --libs convnext-1.0
  gstconvnextmeta-1.0` and nothing from the source or build tree, run on a fixture model: its
  top-k must match the PyTorch reference recorded in tests/fixtures/manifest.json;
- gst-inspect-1.0 with GST_PLUGIN_PATH at the installed plugins directory finds convnextclassify and
  convnextoverlay in the installed libgstconvnext.so.

    test_install.py BUILD_ROOT PREFIX LIBDIR MESON CC [CFLAG...]

The .pc files are used as installed except for their `prefix=` line, which points into the
destdir (what a packager's relocation does): every other path in them must be relative to
${prefix}, or the build below cannot find the headers and libraries and the test fails.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
CASE = "tiny-f32-b1-64x64"
PC_FILES = ["convnext-1.0.pc", "gstconvnextmeta-1.0.pc"]
SCORE_TOL = 1e-4


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        fail(f"{' '.join(cmd)} exited with {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def relocate_pc(src, dst, prefix, new_prefix):
    with open(src) as f:
        lines = f.read().splitlines()
    if f"prefix={prefix}" not in lines:
        fail(f"{src}: no 'prefix={prefix}' line:\n" + "\n".join(lines))
    out = []
    for line in lines:
        if line == f"prefix={prefix}":
            line = f"prefix={new_prefix}"
        elif prefix in line:
            fail(f"{src}: '{line}' names {prefix} instead of ${{prefix}}")
        out.append(line)
    with open(dst, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    build_root, prefix, libdir, meson, cc = sys.argv[1:6]
    cflags = sys.argv[6:]
    tmp = tempfile.mkdtemp(prefix="convnext-install-")
    try:
        destdir = os.path.join(tmp, "destdir")
        run([meson, "install", "-C", build_root, "--no-rebuild", "--quiet", "--destdir", destdir])
        root = destdir + prefix
        lib = os.path.join(root, libdir)
        for header in ["convnext/convnext.h", "convnext/gstconvnextmeta.h"]:
            if not os.path.isfile(os.path.join(root, "include", header)):
                fail(f"{header} is not installed under {root}/include")

        pcdir = os.path.join(tmp, "pkgconfig")
        os.mkdir(pcdir)
        for pc in PC_FILES:
            installed = os.path.join(lib, "pkgconfig", pc)
            if not os.path.isfile(installed):
                fail(f"{pc} is not installed in {os.path.dirname(installed)}")
            relocate_pc(installed, os.path.join(pcdir, pc), prefix, root)
        env = dict(os.environ, PKG_CONFIG_PATH=pcdir)
        env.pop("PKG_CONFIG_LIBDIR", None)
        flags = run(["pkg-config", "--cflags", "--libs", "convnext-1.0", "gstconvnextmeta-1.0"],
                    env=env).split()
        print("pkg-config:", " ".join(flags))
        if f"-I{root}/include" not in flags or f"-L{lib}" not in flags:
            fail(f"pkg-config does not point at the installed tree: {flags}")
        consumer = os.path.join(tmp, "consumer")
        # Built in an empty directory, from a copy: nothing of the source tree is on the include path.
        src = os.path.join(tmp, "consumer.c")
        shutil.copy(os.path.join(HERE, "consumer.c"), src)
        run([cc, "-o", consumer, src] + cflags + flags, cwd=tmp)

        # The installed libraries only (ld.so finds /usr/local/lib on a real install).
        run_env = {k: v for k, v in os.environ.items() if not k.startswith("GST_")}
        run_env["LD_LIBRARY_PATH"] = lib
        run_env.pop("CONVNEXT_DEFAULT_MODEL", None)
        with open(os.path.join(FIXTURES, "manifest.json")) as f:
            case = next(c for c in json.load(f)["cases"] if c["name"] == CASE)
        pixels = np.load(os.path.join(FIXTURES, case["input"])).astype("<f4")
        raw = os.path.join(tmp, "pixels.f32")
        pixels.tofile(raw)
        b, _, h, w = pixels.shape
        expected = case["top_k"][0]
        out = run([consumer, os.path.join(FIXTURES, "models", case["model"]), raw, str(b), str(h),
                   str(w), str(len(expected))], env=run_env).splitlines()
        if out[0] != "GstConvNextClassificationMetaAPI":
            fail(f"meta API type name: {out[0]!r}")
        got = [line.split(" ", 3) for line in out[1:]]
        if len(got) != len(expected):
            fail(f"{len(got)} results, expected {len(expected)}: {out}")
        for g, e in zip(got, expected):
            if int(g[1]) != e["id"] or g[3] != e["label"] or abs(float(g[2]) - e["score"]) > SCORE_TOL:
                fail(f"top-k {got} differs from the PyTorch reference {expected}")
        print(f"consumer: top-{len(got)} of {CASE} matches the PyTorch reference")

        plugins = os.path.join(lib, "gstreamer-1.0")
        run_env["GST_PLUGIN_PATH"] = plugins
        run_env["GST_REGISTRY_1_0"] = os.path.join(tmp, "registry.bin")
        preload = [p for p in os.environ.get("CONVNEXT_TEST_PRELOAD", "").split(":") if p]
        if preload:   # sanitizer builds: gst-inspect-1.0 is not instrumented, the plugin is
            run_env["LD_PRELOAD"] = ":".join(preload)
            run_env["ASAN_OPTIONS"] = "detect_leaks=0"
        for element in ["convnextclassify", "convnextoverlay"]:
            text = run(["gst-inspect-1.0", element], env=run_env)
            want = os.path.join(plugins, "libgstconvnext.so")
            if want not in text:
                fail(f"gst-inspect-1.0 {element} does not name {want}:\n{text[:2000]}")
        print(f"gst-inspect-1.0: convnextclassify and convnextoverlay from {plugins}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
