#!/usr/bin/python3
"""Make tests/fixtures/hostile/: pytorch_model.bin files that a safe loader must refuse (or survive).

Usage (Debian 12: python3-torch):
    /usr/bin/python3 tests/reference/make_hostile.py [--out tests/fixtures/hostile]

Every file is a stand-in for tests/fixtures/hostile/config.json's tiny ConvNeXt (one stage of one block,
hidden size 4, 2 labels): valid.bin is its real state dict as torch.save writes it; the others break one thing.
manifest.json lists each file with the CONVNEXT_ERROR code expected ("ok" = must load) and strings the message
must contain; tests/lib/test-hostile.c runs them.  Recorded once and committed (about 40 kB).

The malicious files really are armed: torch.save of an object whose __reduce__ is os.system on
`touch "$CONVNEXT_MARKER"`.  This script checks that by loading each with Python's pickle (torch.load with
weights_only=False) in a child process and asserting that the marker file appears; the C test then asserts that
the library refuses the file, names the global, and that the marker never appears.

Reruns rewrite every file byte for byte except legacy.bin (the legacy format keys storages by id()).
"""
import argparse
import collections
import io
import json
import os
import pickle
import pickletools
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convnext_torch  # noqa: E402

CONFIG = {"architectures": ["ConvNextForImageClassification"], "depths": [1], "hidden_act": "gelu",
          "hidden_sizes": [4], "id2label": {"0": "no", "1": "yes"}, "label2id": {"no": 0, "yes": 1},
          "layer_norm_eps": 1e-12, "layer_scale_init_value": 1e-6, "model_type": "convnext", "num_channels": 3,
          "num_stages": 1, "patch_size": 4, "image_size": 32}
CMD = 'touch "$CONVNEXT_MARKER"'


class Evil:
    def __reduce__(self):
        return (os.system, (CMD,))


def state_dict():
    torch.manual_seed(0)
    model = convnext_torch.ConvNextForImageClassification(dict(CONFIG))
    return model.state_dict()


def save(obj, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    return buf.getvalue()


def entries(data):
    z = zipfile.ZipFile(io.BytesIO(data))
    return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write_zip(items, compress=()):
    """A zip like torch's (stored entries), except the names in `compress`, which are deflated."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in items:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED
            z.writestr(info, data)
    return buf.getvalue()


def replace_pkl(valid, pkl, compress=False):
    items = [(n, pkl if n.endswith("/data.pkl") else d) for n, d in entries(valid)]
    return write_zip(items, compress={n for n, _ in items if n.endswith("/data.pkl")} if compress else ())


class FakeStorage:
    """Pickled as torch's persistent id ('storage', <type>, key, 'cpu', numel)."""

    def __init__(self, storage_type, key, numel):
        self.pid = ("storage", storage_type, key, "cpu", numel)


class FakeTensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


def torch_like_pickle(obj):
    class P(pickle.Pickler):
        def persistent_id(self, o):
            return o.pid if isinstance(o, FakeStorage) else None
    buf = io.BytesIO()
    P(buf, protocol=2).dump(obj)
    return buf.getvalue()


def hand_made(valid, tensors, storages):
    """A zip holding the valid archive's entries (minus its data) plus `storages` {key: bytes} and a data.pkl
    of `tensors` {name: FakeTensor}."""
    prefix = entries(valid)[0][0].split("/")[0]
    items = [(f"{prefix}/data.pkl", torch_like_pickle(collections.OrderedDict(tensors)))]
    items += [(f"{prefix}/data/{k}", v) for k, v in storages.items()]
    items += [(n, d) for n, d in entries(valid) if n.endswith(("/version", "/byteorder"))]
    return write_zip(items)


def with_huge_memo_indices(pkl):
    """The same pickle with every memo index moved to 0xFFFF0000 + i (LONG_BINPUT / LONG_BINGET)."""
    ops = list(pickletools.genops(pkl))
    ends = [pos for _, _, pos in ops[1:]] + [len(pkl)]
    out = bytearray()
    for (op, arg, pos), end in zip(ops, ends):
        if op.name in ("BINPUT", "LONG_BINPUT"):
            out += b"r" + struct.pack("<I", 0xFFFF0000 + arg)
        elif op.name in ("BINGET", "LONG_BINGET"):
            out += b"j" + struct.pack("<I", 0xFFFF0000 + arg)
        else:
            out += pkl[pos:end]
    return bytes(out)


def armed(data):
    """Does loading `data` with Python's pickle (torch.load, weights_only=False) run the command?"""
    with tempfile.TemporaryDirectory() as d:
        path, marker = os.path.join(d, "evil.bin"), os.path.join(d, "marker")
        with open(path, "wb") as f:
            f.write(data)
        code = "import sys, torch\ntry:\n torch.load(sys.argv[1])\nexcept Exception:\n pass\n"
        subprocess.run([sys.executable, "-c", code, path], env=dict(os.environ, CONVNEXT_MARKER=marker),
                       check=True, capture_output=True)
        return os.path.exists(marker)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "..", "fixtures", "hostile"))
    out = os.path.abspath(ap.parse_args().out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    sd = state_dict()
    valid = save(sd)
    pkl = dict(entries(valid))[[n for n, _ in entries(valid) if n.endswith("/data.pkl")][0]]
    prefix = entries(valid)[0][0].split("/")[0]
    key0 = "0"  # the storage of the first tensor saved
    name0 = next(iter(sd))
    cases = []

    def case(name, data, code, contains, covers, **extra):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        cases.append(dict(file=name, code=code, contains=contains, covers=covers, **extra))

    case("valid.bin", valid, "ok", [], "the real state dict, as torch.save writes it")
    case("deflated.bin", write_zip(entries(valid), compress={n for n, _ in entries(valid)}), "ok", [],
         "valid.bin with every entry deflated (not what torch writes, but a zip tool might): read as copies")
    case("legacy.bin", save(sd, _use_new_zipfile_serialization=False), "UNSUPPORTED",
         ["legacy", "torch < 1.6"], "the legacy (pre-1.6, non-zip) format: refused, saying which format it is")

    evil = save(collections.OrderedDict([("convnext.x", Evil())]))
    hidden = collections.OrderedDict(sd)
    hidden["zzz.payload"] = Evil()
    evil_hidden = save(hidden)
    evil4 = save({"x": Evil()}, pickle_protocol=4)
    for data in (evil, evil_hidden, evil4):
        assert armed(data), "the malicious file must run its command under Python's pickle"
    case("evil-system.bin", evil, "INVALID_WEIGHTS", ["forbidden global posix.system", "nothing was executed"],
         "GLOBAL posix system + REDUCE (os.system on a shell command): refused by name, never run",
         marker=True)
    case("evil-after-tensors.bin", evil_hidden, "INVALID_WEIGHTS", ["forbidden global posix.system"],
         "the real tensors, then an entry whose value runs os.system", marker=True)
    case("evil-stack-global.bin", evil4, "INVALID_WEIGHTS", ["forbidden global posix.system"],
         "protocol 4: STACK_GLOBAL 'posix' 'system'", marker=True)
    case("float64.bin", save(collections.OrderedDict([("w", torch.zeros(3, dtype=torch.float64))])),
         "UNSUPPORTED", ["torch.DoubleStorage"], "a float64 tensor: the storage type is named")
    case("list.bin", save([torch.zeros(2)]), "INVALID_WEIGHTS", ["unsupported opcode 0x5d"],
         "a list of tensors, not a state dict")

    case("truncated.bin", valid[:len(valid) * 6 // 10], "INVALID_WEIGHTS", ["invalid zip archive", "end of central directory"],
         "the first 60 % of valid.bin")
    case("truncated-tail.bin", valid[:-30], "INVALID_WEIGHTS", ["invalid zip archive"],
         "valid.bin without its last 30 bytes (end of central directory cut)")
    z = zipfile.ZipFile(io.BytesIO(valid))
    info = z.getinfo(f"{prefix}/data/{key0}")
    name_len, extra_len = struct.unpack("<HH", valid[info.header_offset + 26:info.header_offset + 30])
    data_at = info.header_offset + 30 + name_len + extra_len  # after the local header
    bad = bytearray(valid)
    bad[data_at] ^= 0x40
    case("bad-crc.bin", bytes(bad), "INVALID_WEIGHTS", ["CRC-32", f"{prefix}/data/{key0}", f"tensor {name0}"],
         "one bit flipped in the data of storage 0")
    case("missing-entry.bin", write_zip([(n, d) for n, d in entries(valid) if n != f"{prefix}/data/{key0}"]),
         "INVALID_WEIGHTS", [f"{prefix}/data/{key0}", name0], "the entry of storage 0 left out")
    case("short-storage.bin", hand_made(valid, {"w": FakeTensor(FakeStorage(torch.FloatStorage, "0", 30), 0,
                                                                (4, 10), (10, 1))},
                                        {"0": bytes(4 * 30)}),
         "INVALID_WEIGHTS", ["tensor w", "storage shorter than the tensor"],
         "a [4, 10] tensor on a storage of 30 elements")
    case("offset-outside.bin", hand_made(valid, {"w": FakeTensor(FakeStorage(torch.FloatStorage, "0", 8), 8,
                                                                 (1,), (1,))},
                                         {"0": bytes(4 * 8)}),
         "INVALID_WEIGHTS", ["tensor w", "storage shorter"], "storage_offset at the end of the storage")
    case("storage-size-mismatch.bin", hand_made(valid, {"w": FakeTensor(FakeStorage(torch.FloatStorage, "0", 40),
                                                                        0, (4,), (1,))},
                                                {"0": bytes(4 * 10)}),
         "INVALID_WEIGHTS", ["tensor w", "holds 40 bytes"], "the persistent id says 40 elements, the entry has 10")
    case("huge-numel.bin", hand_made(valid, {"w": FakeTensor(FakeStorage(torch.FloatStorage, "0", 2 ** 62), 0,
                                                             (2 ** 31, 2 ** 31), (2 ** 31, 1))},
                                     {"0": bytes(16)}),
         "INVALID_WEIGHTS", ["tensor w"], "numel 2^62 and a [2^31, 2^31] tensor: overflow-checked, not allocated")
    views = collections.OrderedDict(sd)
    big = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    views["convnext.encoder.stages.0.extra"] = big.t()[1:3]
    case("strided-extra.bin", save(views), "INVALID_WEIGHTS", ["convnext.encoder.stages.0.extra", "is not part of the ConvNeXt"],
         "a valid strided tensor the config does not explain (inside convnext.encoder.)")

    deep_marks = b"\x80\x02" + b"(" * 100000 + b"."
    case("bomb-deep-marks.bin", replace_pkl(valid, deep_marks, compress=True), "INVALID_WEIGHTS",
         ["MARKs nested deeper"], "100,000 nested MARKs (deflated data.pkl)")
    deep_tuples = b"\x80\x02N" + b"\x85" * 100000 + b"."
    case("bomb-deep-tuples.bin", replace_pkl(valid, deep_tuples, compress=True), "INVALID_WEIGHTS",
         ["nested deeper"], "a tuple of a tuple of ... 100,000 deep, with no MARK (TUPLE1)")
    memo = b"\x80\x04N" + b"\x94" * 1200000 + b"."
    case("bomb-memo.bin", replace_pkl(valid, memo, compress=True), "INVALID_WEIGHTS", ["memo entries"],
         "1,200,000 MEMOIZE: more memo entries than allowed")
    values = b"\x80\x02" + b")" * 1100000 + b"."
    case("bomb-values.bin", replace_pkl(valid, values, compress=True), "INVALID_WEIGHTS", ["values"],
         "1,100,000 EMPTY_TUPLE: more values than allowed")
    case("huge-memo-index.bin", replace_pkl(valid, with_huge_memo_indices(pkl)), "ok", [],
         "the real state dict with every memo index moved to 0xFFFF0000+i: loads, in bounded memory")
    case("huge-string.bin", replace_pkl(valid, b"\x80\x02X\xff\xff\xff\xff" + b"a" * 16 + b"."),
         "INVALID_WEIGHTS", ["string of 4294967295 bytes"], "BINUNICODE claiming 4 GiB")
    case("huge-long.bin", replace_pkl(valid, b"\x80\x02\x8a\xc8" + b"\x01" * 200 + b"."), "INVALID_WEIGHTS",
         ["integer of 200 bytes"], "LONG1 of 200 bytes")
    case("huge-frame.bin", replace_pkl(valid, b"\x80\x04\x95" + struct.pack("<Q", 2 ** 60) + b"N."),
         "INVALID_WEIGHTS", ["FRAME"], "FRAME claiming 2^60 bytes")
    case("no-stop.bin", replace_pkl(valid, pkl[:-1]), "INVALID_WEIGHTS", ["no STOP"], "data.pkl without STOP")
    case("pkl-too-big.bin", replace_pkl(valid, b"\x80\x02}." + b"\x00" * (17 * 1024 * 1024), compress=True),
         "INVALID_WEIGHTS", ["more than the 16777216 allowed"], "a 17 MiB data.pkl deflated to a few kB")
    case("not-a-zip.bin", b"\x00" * 64, "INVALID_WEIGHTS", ["not a zip archive"], "64 zero bytes")

    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"generator": "tests/reference/make_hostile.py", "config": "config.json",
                   "marker_env": "CONVNEXT_MARKER", "cases": cases}, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(out, fn)) for fn in os.listdir(out))
    print(f"wrote {len(cases)} hostile files to {out} ({total / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
