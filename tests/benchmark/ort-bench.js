// Time ONNX Runtime (npm onnxruntime-node, CPU) on one input: the baseline of the benchmark.
//
//   node ort-bench.js --ort-dir DIR --model M.onnx --input X.npy [--repeat N] [--warmup W]
//        [--threads T] [--logits-out FILE.f32]
//
// DIR holds node_modules/onnxruntime-node.  X.npy is float32 [N,3,H,W] (C order).  The session
// uses T intra-op threads, 1 inter-op thread, sequential execution and every graph optimisation.
// Prints one JSON line: {"runtime", "version", "batch", "median_ms", "min_ms", "max_ms", "times_ms"}
// (the same keys as `convnext-classify --repeat`).  --logits-out writes the logits of the last run
// as raw little-endian float32, to check that ORT ran the same model as the others.
'use strict';

const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
  const args = { repeat: 20, warmup: 2, threads: 2 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (argv[i + 1] === undefined) throw new Error(`missing value for ${argv[i]}`);
    args[key] = ['repeat', 'warmup', 'threads'].includes(key) ? Number(argv[i + 1]) : argv[i + 1];
  }
  for (const k of ['ortDir', 'model', 'input'])
    if (!args[k]) throw new Error(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is required`);
  return args;
}

// .npy v1/v2/v3: magic, version, header length, a Python dict literal, then the data.
function readNpyFloat32(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header))
    throw new Error(`${file}: expected little-endian float32 in C order, got ${header.trim()}`);
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  Buffer.from(data.buffer).set(buf.subarray(start, start + 4 * count));
  return { shape, data };
}

function median(sorted) {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const pkgDir = path.join(path.resolve(args.ortDir), 'node_modules', 'onnxruntime-node');
  const ort = require(pkgDir);
  const version = require(path.join(pkgDir, 'package.json')).version;

  const session = await ort.InferenceSession.create(args.model, {
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const { shape, data } = readNpyFloat32(args.input);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };

  let out;
  for (let i = 0; i < args.warmup; i++) out = await session.run(feeds);
  const times = [];
  for (let i = 0; i < args.repeat; i++) {
    const t0 = process.hrtime.bigint();
    out = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  if (args.logitsOut) {
    const logits = out[session.outputNames[0]].data;
    fs.writeFileSync(args.logitsOut, Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength));
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(JSON.stringify({
    runtime: 'onnxruntime-node',
    version,
    batch: shape[0],
    threads: args.threads,
    repeat: args.repeat,
    median_ms: median(sorted),
    min_ms: sorted[0],
    max_ms: sorted[sorted.length - 1],
    times_ms: times,
  }));
}

main().catch((e) => {
  console.error(`ort-bench: ${e.message}`);
  process.exit(1);
});
