// Cross-target determinism: the same swarm seeds run by the simulator compiled for wasm32
// (loaded here, in node) and natively (the swarm-reports binary, run here as a child
// process) must give identical reports: same trace hash, same event count, same history,
// same verdicts. Both sides are computed in this run; nothing is compared with a stored list.
//
//   node tests/determinism/compare.mjs --native PATH --wasm PATH/flotilla_determinism.js \
//        [--seeds 1-200,4294967301]
//
// scripts/test-wasm-determinism builds both sides and runs this. Exits non-zero, naming the
// first seed and field that differ, on any difference.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

function parseArgs(argv) {
  const args = {
    // 200 consecutive seeds cover both swarm profiles, 3 and 5 servers and every fault kind
    // many times over; the last two are past 2^32 and 2^63, where a seed no longer fits in
    // the wasm target's usize or in a JavaScript number.
    seeds: '1-200,4294967301,9223372036854775837',
  };
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!['native', 'wasm', 'seeds'].includes(key) || argv[i + 1] === undefined) {
      throw new Error(`unknown or incomplete argument ${argv[i]}`);
    }
    args[key] = argv[i + 1];
  }
  if (!args.native || !args.wasm) {
    throw new Error('usage: compare.mjs --native BIN --wasm GLUE.js [--seeds A-B,C]');
  }
  return args;
}

// "1-3,10" -> ["1", "2", "3", "10"], as decimal strings (BigInt keeps u64 seeds exact).
function expandSeeds(spec) {
  const seeds = [];
  for (const part of spec.split(',')) {
    const [from, to] = part.split('-').map((s) => BigInt(s.trim()));
    for (let s = from; s <= (to ?? from); s++) seeds.push(s.toString());
  }
  return seeds;
}

function parseReports(text, side, seeds) {
  const lines = text.split('\n').filter((l) => l.length > 0);
  if (lines.length !== seeds.length) {
    throw new Error(`${side}: ${lines.length} reports for ${seeds.length} seeds`);
  }
  return lines.map((line, i) => {
    const report = JSON.parse(line);
    if (report.error) throw new Error(`${side}: seed ${seeds[i]}: ${report.error}`);
    return { line, report };
  });
}

// The first field (a JSON path) where two reports differ.
function firstDifference(a, b, where = '') {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) {
    return a === b ? null : `${where || '(report)'}: native ${JSON.stringify(a)}, wasm ${JSON.stringify(b)}`;
  }
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  for (const key of keys) {
    const found = firstDifference(a[key], b[key], `${where}.${key}`);
    if (found) return found;
  }
  return null;
}

const args = parseArgs(process.argv);
const seeds = expandSeeds(args.seeds);
const seedList = seeds.join(',');

let start = performance.now();
const nativeText = execFileSync(args.native, [seedList], {
  encoding: 'utf8',
  maxBuffer: 256 * 1024 * 1024,
});
const nativeMs = performance.now() - start;

start = performance.now();
const wasm = createRequire(import.meta.url)(path.resolve(args.wasm));
const wasmText = wasm.swarm_reports(seedList);
const wasmMs = performance.now() - start;

const native = parseReports(nativeText, 'native', seeds);
const inWasm = parseReports(wasmText, 'wasm', seeds);

let failed = 0;
const hashes = new Set();
let events = 0;
for (let i = 0; i < seeds.length; i++) {
  const n = native[i].report;
  const w = inWasm[i].report;
  // Read from the text: JSON.parse rounds numbers past 2^53.
  const seed = /^\{"seed":(\d+),/.exec(native[i].line)?.[1];
  if (seed !== seeds[i]) {
    throw new Error(`native report ${i} is for seed ${seed}, expected ${seeds[i]}`);
  }
  // A run that did nothing would agree trivially: require real runs.
  if (!(n.events > 100 && n.ops > 0)) {
    throw new Error(`seed ${seeds[i]}: only ${n.events} events and ${n.ops} operations`);
  }
  hashes.add(n.trace_hash);
  events += n.events;
  if (native[i].line !== inWasm[i].line) {
    failed++;
    const diff = firstDifference(n, w) ?? 'same values, different JSON text';
    console.error(`seed ${seeds[i]}: wasm differs from native at ${diff}`);
    console.error(`  reproduce: flotilla sim --seed ${seeds[i]} --json`);
  }
}
if (hashes.size !== seeds.length) {
  throw new Error(`${seeds.length} seeds gave only ${hashes.size} different trace hashes`);
}

const ms = (t) => `${(t / 1000).toFixed(2)} s`;
console.log(
  `${seeds.length} swarm seeds (${args.seeds}), ${events} events: ` +
    `native ${ms(nativeMs)}, wasm ${ms(wasmMs)}`,
);
console.log(`${seeds.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
