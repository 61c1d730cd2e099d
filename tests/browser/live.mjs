// Browser tests of live mode, in headless Chromium, against a real `flotilla cluster --nodes 3`
// that this script starts (temporary data folder, free ports, its own token) and stops:
//
//   1. the page served by node 1 switches to live mode by itself, connects to every node and
//      shows the leader the nodes' own /status names;
//   2. a put from the page's client box is read back with redis-cli and by the page, a delete
//      from the page completes with "removed", and the page's history is linearizable;
//   3. admin actions without the token are refused: the buttons are disabled, a wrong token
//      is refused by every node and so is the action sent with it, and a raw WebSocket that
//      never presented the token gets `admin_reply` `refused`;
//   4. kill -9 of the leader's process shows in the page (the node drawn down) and a new
//      leader appears; the supervisor restarts the node and the page sees it again;
//   5. with the token, a browser peer joins as a learner with the cluster's timers (from the
//      welcome) and reaches the leader's commit index; removing it takes it out of the
//      configuration;
//   6. no console errors, page errors or failed requests.
//
// Screenshots go to artifacts/live-*.png, numbers to artifacts/live-results.json.
// Usage: node tests/browser/live.mjs (after scripts/build-web; builds the flotilla binary).
// Env: CHROMIUM=/path/to/chromium, FLOTILLA=/path/to/flotilla (skips the build).

import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ARTIFACTS, CHROMIUM, DIST, ROOT, launchChromium, newPage, requireDist } from './common.mjs';

const TOTAL_TIMEOUT_MS = 240_000;
const NODES = 3;

const errors = [];
const results = {};
let cluster = null;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/// Whether a TCP port on 127.0.0.1 can be listened on now.
function portFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/// Three port bases such that base+1..base+NODES are free for each (RESP, HTTP, Raft).
async function freeBases() {
  for (let attempt = 0; attempt < 200; attempt++) {
    const start = 20_000 + Math.floor(Math.random() * 40_000);
    const bases = [start, start + 10, start + 20];
    let ok = true;
    for (const base of bases) {
      for (let i = 1; i <= NODES && ok; i++) ok = await portFree(base + i);
    }
    if (ok) return bases;
  }
  throw new Error('no free ports found');
}

function flotillaBinary() {
  if (process.env.FLOTILLA) return process.env.FLOTILLA;
  execFileSync('cargo', ['build', '-q', '-p', 'flotilla'], { cwd: ROOT, stdio: 'inherit' });
  const target = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target');
  return path.join(target, 'debug', 'flotilla');
}

async function startCluster() {
  const binary = flotillaBinary();
  const data = await fs.mkdtemp(path.join(os.tmpdir(), 'flotilla-live-'));
  const [resp, http, peer] = await freeBases();
  const token = crypto.randomBytes(12).toString('hex');
  const args = [
    'cluster',
    '--nodes', String(NODES),
    '--data', data,
    '--resp-port-base', String(resp),
    '--http-port-base', String(http),
    '--peer-port-base', String(peer),
    '--web-dir', DIST,
    '--token', token,
  ];
  const logPath = path.join(ARTIFACTS, 'live-cluster.log');
  const log = await fs.open(logPath, 'w');
  // Its own process group, so that the whole cluster can be stopped at once.
  const child = spawn(binary, args, { cwd: ROOT, detached: true, stdio: ['ignore', log.fd, log.fd] });
  cluster = { child, data, token, log, logPath, resp, http, peer, exited: false };
  child.on('exit', () => (cluster.exited = true));
  const node = (i) => ({ http: `127.0.0.1:${http + i}`, resp: resp + i });
  cluster.node = node;
  // Wait for a leader the nodes agree on.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    check(!cluster.exited, `flotilla cluster exited early; see ${logPath}`);
    const leader = await leaderOf().catch(() => null);
    if (leader) return;
    await sleep(200);
  }
  throw new Error(`the cluster elected no leader in 30 s; see ${logPath}`);
}

async function stopCluster() {
  if (!cluster) return;
  const { child } = cluster;
  if (!cluster.exited) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {}
    const deadline = Date.now() + 8_000;
    while (!cluster.exited && Date.now() < deadline) await sleep(100);
    if (!cluster.exited) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }
  }
  await cluster.log.close().catch(() => {});
  await fs.rm(cluster.data, { recursive: true, force: true });
  cluster = null;
}

/// A node's /status, or null if it does not answer.
async function status(i) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 1_000);
  try {
    const response = await fetch(`http://${cluster.node(i).http}/status`, { signal: controller.signal });
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/// The leader of the highest term among the nodes that answer, as they say themselves.
async function leaderOf() {
  let best = null;
  for (let i = 1; i <= NODES; i++) {
    const s = await status(i);
    if (s && s.role === 'leader' && (!best || s.term > best.term)) best = s;
  }
  return best;
}

/// The pid of node `id`'s process (a child of the supervisor).
function nodePid(id) {
  const out = execFileSync('ps', ['--ppid', String(cluster.child.pid), '-o', 'pid=,args='], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes(`--id=${id} `) || l.endsWith(`--id=${id}`));
  check(line, `no process for node ${id} under the supervisor:\n${out}`);
  return Number(line.trim().split(/\s+/)[0]);
}

function redisCli(port, ...args) {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).trim();
}

async function shot(page, name) {
  const file = path.join(ARTIFACTS, `live-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${path.relative(ROOT, file)}`);
}

const text = (page, selector) => page.locator(selector).textContent();

/// Sets an input the way a person does (yew reads it on `change`).
async function type(page, selector, value) {
  await page.fill(selector, value);
  await page.dispatchEvent(selector, 'change');
}

async function adminLog(page) {
  return (await page.locator('#admin-log').innerText().catch(() => '')).split('\n');
}

async function main() {
  await requireDist();
  await fs.mkdir(ARTIFACTS, { recursive: true });
  const started = Date.now();
  await startCluster();
  results.cluster_ready_ms = Date.now() - started;
  const url = `http://${cluster.node(1).http}/`;
  console.log(`live tests against flotilla cluster --nodes ${NODES} (page ${url}, RESP from ${cluster.resp + 1})`);
  const browser = await launchChromium();
  try {
    // 1. Served by a node: live mode by itself, every node, the real leader.
    const page = await newPage(browser, errors, { width: 1280, height: 1000 });
    const loadStart = Date.now();
    await page.goto(url, { waitUntil: 'load' });
    await page.locator('#mode-live.on').waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => document.querySelector('#reporting')?.textContent === '3/3', null, { timeout: 15_000 });
    await page.waitForFunction(() => /^n\d+$/.test(document.querySelector('#leader')?.textContent), null, { timeout: 15_000 });
    results.connected_ms = Date.now() - loadStart;
    let truth = await leaderOf();
    let shown = await text(page, '#leader');
    if (shown !== `n${truth.id}`) {
      // An election may have been under way; both must settle on the same node.
      await sleep(1_000);
      truth = await leaderOf();
      shown = await text(page, '#leader');
    }
    check(shown === `n${truth.id}`, `the page shows leader ${shown}, the nodes say n${truth.id}`);
    check((await text(page, '#term')) === String(truth.term), `the page shows term ${await text(page, '#term')}, the leader says ${truth.term}`);
    console.log(`ok 1 the page connected to ${await text(page, '#reporting')} nodes in ${results.connected_ms} ms and shows leader ${shown} in term ${truth.term}, as the nodes say`);
    // The page keeps up with three nodes streaming statuses, events and message summaries.
    const measured = await page.evaluate(
      () =>
        new Promise((resolve) => {
          let frames = 0;
          const t0 = performance.now();
          const s0 = Number(document.querySelector('#summaries').textContent);
          const tick = (t) => {
            frames += 1;
            if (t - t0 < 3_000) requestAnimationFrame(tick);
            else
              resolve({
                fps: (frames * 1000) / (t - t0),
                summaries_per_s: ((Number(document.querySelector('#summaries').textContent) - s0) * 1000) / (t - t0),
              });
          };
          requestAnimationFrame(tick);
        }),
    );
    results.fps = Number(measured.fps.toFixed(1));
    results.summaries_per_s = Math.round(measured.summaries_per_s);
    check(measured.fps >= 20, `${measured.fps.toFixed(1)} frames per second in live mode`);
    console.log(`ok 1b ${results.fps} frames per second while the nodes stream ${results.summaries_per_s} message summaries a second`);
    await shot(page, 'connected');

    // 2. A put from the page, read back with redis-cli.
    const key = `page-${crypto.randomBytes(3).toString('hex')}`;
    await type(page, '#client-key', key);
    await type(page, '#client-value', 'from-the-browser');
    await page.click('#client-send');
    await page.waitForFunction((k) => document.querySelector('#client-recent')?.textContent.includes(`put ${k}=from-the-browser → ok`), key, { timeout: 10_000 });
    for (let i = 1; i <= NODES; i++) {
      const value = redisCli(cluster.node(i).resp, 'GET', key);
      check(value === 'from-the-browser', `redis-cli -p ${cluster.node(i).resp} GET ${key} says "${value}"`);
    }
    await page.click('.seg-btn:text("get")');
    await page.click('#client-send');
    await page.waitForFunction((k) => document.querySelector('#client-recent')?.textContent.includes(`get ${k} → from-the-browser`), key, { timeout: 10_000 });
    // A delete completes in the history with whether it removed the key (kv_reply's `removed`).
    await page.click('.seg-btn:text("delete")');
    await page.click('#client-send');
    await page.waitForFunction((k) => document.querySelector('#client-recent')?.textContent.includes(`delete ${k} → deleted true`), key, { timeout: 10_000 });
    const gone = redisCli(cluster.node(1).resp, 'GET', key);
    check(gone === '', `redis-cli GET ${key} after the page's delete says "${gone}"`);
    const verdict = await text(page, '#lin-verdict');
    check(verdict.startsWith('linearizable (3 operations)'), `the page's history: ${verdict}`);
    console.log(`ok 2 put ${key} from the page; redis-cli reads it from all ${NODES} nodes; the page reads it back and deletes it (removed: true); ${verdict}`);

    // 3. Without the token, admin actions are refused.
    const leaderId = Number(shown.slice(1));
    await page.click(`#node-${leaderId}`);
    check(await page.locator('#btn-crash').isDisabled(), 'Crash is enabled without a token');
    check(await page.locator('#peer-join').isDisabled(), 'Add a browser peer is enabled without a token');
    await type(page, '#live-token', 'not-the-token');
    await page.click('#live-token-use');
    await page.locator('#token-state.bad').waitFor({ timeout: 10_000 });
    await page.waitForFunction(() => [...document.querySelectorAll('#admin-log li')].filter((l) => l.textContent.includes('refused the token')).length >= 3, null, { timeout: 10_000 });
    await page.click('#btn-pause');
    await page.waitForFunction(() => document.querySelector('#admin-log li.refused')?.textContent.includes('need the cluster token'), null, { timeout: 10_000 });
    const refusal = (await adminLog(page))[0];
    // The protocol itself, from a socket that never presented the token.
    const raw = await page.evaluate(
      (address) =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(`ws://${address}/ws`);
          const timer = setTimeout(() => reject(new Error('no admin_reply in 5 s')), 5_000);
          ws.onmessage = (event) => {
            // Protocol v1: one key, the message's name, holding its fields.
            const message = JSON.parse(event.data);
            if (message.welcome) {
              ws.send(JSON.stringify({ admin: { id: 99, action: { crash: { node: 1 } } } }));
            } else if (message.admin_reply?.id === 99) {
              clearTimeout(timer);
              ws.close();
              resolve({ authed: false, result: message.admin_reply.result });
            }
          };
        }),
      cluster.node(2).http,
    );
    check(raw.result.refused, `a crash without the token was not refused: ${JSON.stringify(raw.result)}`);
    check((await leaderOf()) !== null && (await status(1)) !== null, 'a refused crash crashed something');
    results.refused = { page: refusal, protocol: raw.result.refused.message };
    console.log(`ok 3 without the token: buttons disabled; a wrong token refused by every node; "${refusal.replace(/^[\d.]+ s /, '')}"; a raw socket's crash: refused ("${raw.result.refused.message}")`);
    await shot(page, 'refused');

    // 4. kill -9 the leader: shown down, a new leader, and back after the supervisor's restart.
    const pid = nodePid(leaderId);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await page.waitForFunction((id) => document.querySelector(`#node-${id}`)?.classList.contains('crashed'), leaderId, { timeout: 10_000 });
    results.down_shown_ms = Date.now() - killedAt;
    await page.waitForFunction(
      (old) => {
        const now = document.querySelector('#leader')?.textContent;
        return /^n\d+$/.test(now) && now !== old;
      },
      `n${leaderId}`,
      { timeout: 20_000 },
    );
    results.new_leader_shown_ms = Date.now() - killedAt;
    const next = await text(page, '#leader');
    const nextTruth = await leaderOf();
    check(nextTruth && next === `n${nextTruth.id}`, `the page shows ${next}, the nodes say ${nextTruth && `n${nextTruth.id}`}`);
    await page.waitForTimeout(300);
    await shot(page, 'leader-killed');
    await page.waitForFunction(() => document.querySelector('#reporting')?.textContent === '3/3', null, { timeout: 30_000 });
    results.back_ms = Date.now() - killedAt;
    console.log(
      `ok 4 kill -9 of n${leaderId} (pid ${pid}): drawn down after ${results.down_shown_ms} ms, ` +
        `new leader ${next} shown after ${results.new_leader_shown_ms} ms, all 3 reporting again after ${results.back_ms} ms (supervisor restart)`,
    );

    // 5. With the token: a browser peer joins as a learner and catches up.
    await type(page, '#live-token', cluster.token);
    await page.click('#live-token-use');
    await page.locator('#token-state.ok').waitFor({ timeout: 10_000 });
    // Something to catch up on.
    for (let i = 0; i < 20; i++) redisCli(cluster.node(1).resp, 'SET', `catch-up-${i}`, `v${i}`);
    const joinAt = Date.now();
    await page.click('#peer-join');
    await page.locator('#peer-id').waitFor({ timeout: 20_000 });
    const peerName = await text(page, '#peer-id');
    check((await text(page, '#peer-seat')) === 'learner', `the browser peer joined as ${await text(page, '#peer-seat')}`);
    await page.locator('#peer-caught-up').waitFor({ timeout: 30_000 });
    results.peer_caught_up_ms = Date.now() - joinAt;
    const leaderNow = await leaderOf();
    const peerCommit = Number(await text(page, '#peer-commit'));
    check(peerCommit >= leaderNow.commit - 2, `the peer's commit ${peerCommit}, the leader's ${leaderNow.commit}`);
    const members = leaderNow.membership.members;
    check(members[peerName.slice(1)]?.role === 'Learner', `the leader's membership: ${JSON.stringify(members)}`);
    check(await page.locator(`#node-${peerName.slice(1)}.in-page`).isVisible(), 'the peer is not drawn in the ring');
    // Its timers are the cluster's, from its relay's welcome.
    const joinedLine = (await adminLog(page)).find((line) => line.includes('joined as a learner'));
    check(joinedLine?.includes("(the cluster's)"), `the browser peer's timers: ${joinedLine}`);
    await page.waitForTimeout(500);
    await shot(page, 'browser-peer');
    console.log(
      `ok 5 browser peer ${peerName} joined as a learner (the leader lists it) and reached commit ${peerCommit} ` +
        `(the leader's: ${leaderNow.commit}) in ${results.peer_caught_up_ms} ms`,
    );
    await page.click('#peer-remove');
    await page.locator('#peer-join').waitFor({ timeout: 15_000 });
    const after = await leaderOf();
    check(!after.membership.members[peerName.slice(1)], `still a member after removal: ${JSON.stringify(after.membership.members)}`);
    console.log(`ok 5b removing the peer takes ${peerName} out of the configuration`);
    await page.close();

    // Looks: a phone, in the dark theme.
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    phone.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
    phone.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console error: ${message.text()}`);
    });
    await phone.goto(url, { waitUntil: 'load' });
    await phone.waitForFunction(() => document.querySelector('#reporting')?.textContent === '3/3', null, { timeout: 15_000 });
    await phone.waitForTimeout(800);
    await shot(phone, 'phone');
    await phone.close();
  } finally {
    results.errors = errors;
    await fs.writeFile(path.join(ARTIFACTS, 'live-results.json'), JSON.stringify(results, null, 2));
    await browser.close();
    await stopCluster();
  }
  check(errors.length === 0, errors.join('\n'));
  console.log('ok 6 no console errors, page errors or failed requests');
  console.log('live tests: ok');
}

setTimeout(() => {
  console.error(`live tests: timed out after ${TOTAL_TIMEOUT_MS / 1000}s`);
  stopCluster().finally(() => process.exit(1));
}, TOTAL_TIMEOUT_MS).unref();

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => stopCluster().finally(() => process.exit(1)));
}

main().catch(async (error) => {
  console.error(`live tests: FAILED\n${error.stack || error.message}`);
  await stopCluster();
  process.exit(1);
});
