#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): small valid files of
each kind, taken from the repository's fixtures where they are small or built here, and the known-bad
inputs of issue 19 (each a regression input for a defect found by hand or by fuzzing).

    /usr/bin/python3 tests/fuzz/make_corpus.py        (from the source root; no third-party modules)

Inputs that libFuzzer later finds interesting stay in the run's own corpus (build-fuzz/fuzz-corpus);
crash reproducers that lead to a fix are added here under a name that says what they broke."""
import json
import os
import shutil
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def copy_file(target, name, path):
    with open(path, "rb") as f:
        write(target, name, f.read())


def copy(target, name, src):
    with open(os.path.join(ROOT, src), "rb") as f:
        write(target, name, f.read())


def safetensors(header, data=b"", pad=b" ", length=None):
    text = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    text += pad * (-len(text) % 8)
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def tensor(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def npy(shape, values, descr="<f4", fortran=False, version=1, header=None):
    if header is None:
        dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
        header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (descr, fortran, dims)
    header = header.encode()
    fixed = 10 if version == 1 else 12
    header += b" " * (-(fixed + len(header) + 1) % 64) + b"\n"
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header + struct.pack("<%df" % len(values), *values)


def main():
    shutil.rmtree(OUT, ignore_errors=True)

    # ---- safetensors headers ----
    t = "safetensors"
    write(t, "valid-two-tensors", safetensors({"__metadata__": {"format": "pt"},
                                               "a": tensor("F32", [2, 2], 0, 16), "b": tensor("F16", [3], 16, 22)},
                                              bytes(range(22))))
    write(t, "valid-bf16-scalar", safetensors({"s": tensor("BF16", [], 0, 2)}, b"\x80\x3f"))
    write(t, "valid-empty-tensor", safetensors({"e": tensor("F32", [0, 4], 0, 0)}))
    write(t, "valid-no-tensors", safetensors({"__metadata__": {}}))
    write(t, "valid-unaligned-data", safetensors(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} ',
                                                 b"\0\0\x80\x3f", pad=b""))
    head = json.dumps({"a": tensor("F32", [1], 0, 4)}).encode() + b"\0" * 8
    write(t, "bad-nul-padding", struct.pack("<Q", len(head)) + head + b"\0" * 4)
    write(t, "bad-offsets-2^64", safetensors(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551620]}}',
                                             b"\0" * 4))
    write(t, "bad-overlap", safetensors({"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [1], 4, 8)}, b"\0" * 8))
    write(t, "bad-hole", safetensors({"a": tensor("F32", [1], 0, 4), "b": tensor("F32", [1], 8, 12)}, b"\0" * 12))
    write(t, "bad-shape-overflow", safetensors({"a": tensor("F32", [2**62, 2**62], 0, 4)}, b"\0" * 4))
    write(t, "bad-header-length-past-end", safetensors({"a": tensor("F32", [1], 0, 4)}, b"\0" * 4, length=1 << 20))
    write(t, "bad-header-length-2^64-1", safetensors({}, length=2**64 - 1))
    write(t, "bad-nested-100", safetensors(b'{"__metadata__":' + b"[" * 100 + b"]" * 100 + b"}"))
    write(t, "bad-not-utf8", safetensors(b'{"\xff\xfe":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4))
    write(t, "bad-dtype", safetensors({"a": tensor("I64", [1], 0, 8)}, b"\0" * 8))
    # found by fuzz-preprocessor-config: json-glib's scanner reads the (invalid JSON) octal escape
    # \351 as byte 0xe9 and quotes it in its syntax error: error messages that were not UTF-8
    write(t, "bad-syntax-error-not-utf8", safetensors(rb'{"caf\351" 1}'))
    write(t, "bad-short", b"\x08\0\0\0")
    # a real (small) checkpoint
    copy(t, "valid-tiny-model", "tests/element/models/tiny/model.safetensors")

    # ---- config.json ----
    t = "config"
    for m in ("tiny-f32", "small-relu-p2", "bare-model", "zero-depth-stage", "small-p3-minimal"):
        copy(t, "valid-" + m, f"tests/fixtures/models/{m}/config.json")
    copy(t, "valid-default-model", "examples/models/convnext-cifar10/config.json")
    write(t, "valid-minimal", '{"model_type":"convnext","hidden_sizes":[8],"depths":[1],"num_stages":1}')
    write(t, "valid-backbone", '{"model_type":"convnextv2","hidden_sizes":[4,8],"depths":[1,1],"num_stages":2,'
                               '"out_features":["stem","stage2"],"out_indices":[0,-1]}')
    base = '{"model_type":"convnext","hidden_sizes":[6,10,14],"depths":[1,2,1],"num_stages":3,'
    write(t, "bad-id2label-gap", base + '"id2label":{"1":"b","2":"c","7":"h","0":"a","3":"d"}}')
    write(t, "bad-id2label-duplicate-id", base + '"id2label":{"0":"a","00":"b"}}')
    write(t, "bad-depths-2^64", base.replace("[1,2,1]", "[1,18446744073709551616,1]") + '"x":0}')
    write(t, "bad-out_indices-2^64-1", base + '"out_indices":[18446744073709551615]}')
    write(t, "bad-nested-100", base + '"task_specific_params":' + "[" * 100 + "]" * 100 + "}")
    write(t, "bad-layer_norm_eps-huge", base + '"layer_norm_eps":1e999}')
    write(t, "bad-not-object", "[1,2,3]")
    write(t, "bad-syntax-error-not-utf8", rb'{"caf\351" 1}')
    # json-glib 1.6 reads the octal escape \351 as byte 0xe9: a label that is not UTF-8
    write(t, "bad-octal-escape-label", base.encode() + rb'"id2label":{"0":"caf\351"}}')
    write(t, "bad-truncated", base)

    # ---- preprocessor_config.json ----
    t = "preprocessor-config"
    for c in ("c224-bicubic", "c384-bilinear", "c200-int-size", "c64-norescale", "noresize", "defaults"):
        src = f"tests/fixtures/preprocess/configs/{c}/preprocessor_config.json"
        if os.path.exists(os.path.join(ROOT, src)):
            copy(t, "valid-" + c, src)
    copy(t, "valid-tiny", "tests/element/models/tiny/preprocessor_config.json")
    write(t, "valid-empty", "{}")
    write(t, "valid-nulls", '{"size":224,"crop_pct":null,"resample":null,"image_mean":0.5,"image_std":0.25}')
    write(t, "bad-rescale-overflows-float", '{"rescale_factor":1e300}')
    write(t, "bad-std-tiny", '{"image_std":[0.229,1e-300,0.225]}')
    write(t, "bad-size-2^64", '{"size":18446744073709551616}')
    write(t, "bad-shortest-edge-2^63", '{"size":{"shortest_edge":9223372036854775808}}')
    write(t, "bad-crop-pct-tiny", '{"size":224,"crop_pct":1e-300}')
    write(t, "bad-nested-100", '{"x":' + "[" * 100 + "]" * 100 + "}")
    write(t, "bad-height-width", '{"size":{"height":224,"width":224}}')
    # the input fuzz-preprocessor-config crashed on: \200 became byte 0x80 in json-glib's message
    write(t, "bad-syntax-error-not-utf8", rb'{"sitdg6z\200037"stem"]]]5' + b'\x1a]}08}}')

    # ---- labels files ----
    t = "labels"
    write(t, "valid-lf", "tench\ngoldfish\ngreat white shark\n")
    write(t, "valid-crlf-blank-tail", "cat\r\ndog\r\n\r\n\r\n")
    write(t, "valid-bom-utf8", "\ufeffcaf\u00e9\n\u732b\nno final newline")
    write(t, "valid-empty", "")
    write(t, "bad-latin1", b"cat\ncaf\xe9\n")
    write(t, "bad-nul", b"cat\ndo\0g\n")
    write(t, "bad-truncated-utf8", b"cat\n\xe7\x8c")

    # ---- .npy tensors ----
    t = "npy"
    write(t, "valid-1x3x2x2", npy((1, 3, 2, 2), [i / 10 for i in range(12)]))
    write(t, "valid-v2-1d", npy((3,), [1.0, 2.0, 3.0], version=2))
    write(t, "valid-scalar", npy((), [4.0]))
    write(t, "valid-empty", npy((0, 3), []))
    write(t, "bad-fortran", npy((2, 2), [0.0] * 4, fortran=True))
    write(t, "bad-big-endian", npy((2,), [0.0] * 2, descr=">f4"))
    write(t, "bad-float64", npy((1,), [0.0, 0.0], descr="<f8"))
    write(t, "bad-shape-overflow", npy(None, [0.0], header="{'descr': '<f4', 'fortran_order': False, "
                                                         "'shape': (4294967296, 4294967296, 4), }"))
    write(t, "bad-shape-huge-dim", npy(None, [], header="{'descr': '<f4', 'fortran_order': False, "
                                                       "'shape': (0, 99999999999999999999999), }"))
    write(t, "bad-truncated-data", npy((4,), [0.0] * 3))
    write(t, "bad-header-length", b"\x93NUMPY\x01\x00\xff\xff{'descr'")
    write(t, "bad-version", b"\x93NUMPY\x09\x00\x10\x00" + b" " * 16)

    # ---- pytorch_model.bin (the torch target) and its data.pkl (the pickle target) ----
    # The hostile fixtures (tests/reference/make_hostile.py) and a small real torch.save file.
    hostile = os.path.join(ROOT, "tests", "fixtures", "hostile")
    for name in sorted(os.listdir(hostile)):
        if not name.endswith(".bin"):
            continue
        path = os.path.join(hostile, name)
        stem = name[:-4]
        label = "valid" if stem == "valid" else "bad"
        copy("torch", f"{label}-{stem}", path)
        try:
            with zipfile.ZipFile(path) as z:
                pkl = [n for n in z.namelist() if n.endswith("/data.pkl")]
                # the bombs' megabyte pickles stay in the torch target only (deflated there)
                if pkl and z.getinfo(pkl[0]).file_size <= 64 * 1024:
                    write("pickle", f"{label}-{stem}.pkl", z.read(pkl[0]))
        except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, EOFError, NotImplementedError):
            pass  # not a zip, or a broken one: only the torch target gets it
    copy("torch", "valid-mini-bin-f16", "tests/fixtures/models/mini-bin-f16/pytorch_model.bin")
    # found by fuzz-pickle (353,146 runs): a SETITEMS that puts the OrderedDict inside itself (BINGET
    # of the dict being filled) made a cyclic value tree, so walks of the result (the harness's)
    # recursed until the stack overflowed; the unpickler now refuses to fill a dict fetched from
    # the memo
    copy_file("pickle", "bad-dict-inside-itself", os.path.join(HERE, "regressions", "pickle-dict-inside-itself"))
    # made fuzz-pickle time out: 27 nested 1-tuples, which the harness's own tree walk visited
    # 2^28 nodes (MAX () evaluated it twice); the unpickler takes microseconds
    write("pickle", "valid-nested-tuples-27", b"N" + b"\x85" * 27 + b"." + b"\x85" * 9 + b"N?\xa7\xa7")


if __name__ == "__main__":
    main()
