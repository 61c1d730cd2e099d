// Browser tests of the page (the simulated cluster), in headless Chromium:
//
//   1. the page loads and a leader appears within 2 s;
//   2. crashing the leader from the UI (click it, then Crash) yields a new leader;
//   3. the page's replay link reproduces the run: opened in a fresh page it shows the same
//      trace hash, and replaying it natively (web/examples/replay_hash.rs, the core alone)
//      gives the same hash too; a chaos-run link (auto mode, seed 7) ends with the trace
//      hash `flotilla sim --seed 7 --json` prints;
//   4. the Figure 8 scenario (commit-previous-term planted) turns the checkers red, and the
//      stale-read scenario turns the linearizability verdict red;
//   5. performance: frames per second while 5 nodes have ~200 messages in flight, written
//      to artifacts/page-perf.json;
//   6. no console errors, no page errors, no failed requests.
//
// Screenshots go to artifacts/page-*.png. Usage: node tests/browser/page.mjs (after
// scripts/build-web). Env: CHROMIUM=/path/to/chromium.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ARTIFACTS, CHROMIUM, DIST, ROOT, launchChromium, newPage, requireDist, serve } from './common.mjs';

const TOTAL_TIMEOUT_MS = 300_000;
const LEADER_WITHIN_MS = 2_000;

// Heavy traffic for the frame-rate measurement: 350 ms links and a heartbeat every 10 ms
// keep a few hundred messages in flight; the link opens at 6 s, after the first election.
const PERF_LINK =
  'v1&s=3&n=5&e=2000-4000&h=10&pv=1&cq=1&se=64&ae=256&l=300-400&j=5&lo=0&du=0&cl=5&f=2-6' +
  '&tw=1&w=3&k=4&th=60&rt=500&ot=3000&mx=400.100.200&t=6000';


const errors = [];
const results = {};

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function shot(page, name, fullPage = false) {
  const file = path.join(ARTIFACTS, `page-${name}.png`);
  await page.screenshot({ path: file, fullPage });
  console.log(`  screenshot ${path.relative(ROOT, file)}`);
}

const text = (page, selector) => page.locator(selector).textContent();

async function setSpeed(page, index) {
  await page.evaluate((value) => {
    const input = document.querySelector('#speed');
    input.value = String(value);
    input.dispatchEvent(new InputEvent('input', { bubbles: true }));
  }, index);
}

async function pause(page) {
  if ((await page.locator('#play').getAttribute('aria-label')) === 'Pause') {
    await page.click('#play');
  }
  await page.waitForFunction(() => document.querySelector('#play').getAttribute('aria-label') === 'Play');
}

/// Plays a narrated scenario, clicking "Continue" at each step, until `done()` holds.
async function playScenario(page, key, done, timeoutMs) {
  // While a scenario plays, the library folds up under its narration.
  if (!(await page.locator(`#scenario-${key}`).isVisible())) await page.click('.scenarios summary');
  await page.click(`#scenario-${key}`);
  await setSpeed(page, 10); // 100x: the narration still stops at every step
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await page.evaluate(done)) return;
    const next = page.locator('#continue');
    if (await next.isVisible()) await next.click();
    await page.waitForTimeout(100);
  }
  throw new Error(`scenario ${key}: not done after ${timeoutMs / 1000} s`);
}

/// `flotilla sim --seed S --json`: the simulator engineer's command, run natively.
function flotillaSim(seed) {
  const out = execFileSync('cargo', ['run', '-q', '-p', 'flotilla', '--', 'sim', '--seed', String(seed), '--json'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop());
}

function nativeHash(fragment) {
  const out = execFileSync(
    'cargo',
    ['run', '-q', '--profile', 'test', '-p', 'flotilla-web', '--example', 'replay_hash', '--', fragment],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

async function main() {
  await requireDist();
  await fs.mkdir(ARTIFACTS, { recursive: true });
  const server = await serve(DIST);
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await launchChromium();
  try {
    console.log(`page tests against ${url} in ${CHROMIUM} (${browser.version()})`);

    // 1. Loads, and a leader within 2 s.
    const page = await newPage(browser, errors);
    const start = Date.now();
    await page.goto(url, { waitUntil: 'load' });
    await page.locator('#ring').waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => /^n\d+$/.test(document.querySelector('#leader')?.textContent), null, {
      timeout: LEADER_WITHIN_MS,
    });
    results.leader_after_ms = Date.now() - start;
    console.log(`ok 1 page loaded, leader ${await text(page, '#leader')} after ${results.leader_after_ms} ms`);
    await page.waitForTimeout(1_200);
    await shot(page, 'desktop');

    // 2. Crash the leader from the UI.
    const leader = await text(page, '#leader');
    await page.click(`#node-${leader.slice(1)}`);
    await page.click('#btn-crash');
    await page.waitForFunction(
      (old) => {
        const now = document.querySelector('#leader')?.textContent;
        return /^n\d+$/.test(now) && now !== old;
      },
      leader,
      { timeout: 20_000 },
    );
    const next = await text(page, '#leader');
    console.log(`ok 2 crashed ${leader} from the inspector; ${next} leads term ${await text(page, '#term')}`);
    await page.waitForTimeout(400);
    await shot(page, 'after-crash');

    // 3. The replay link: same hash in a fresh page and natively.
    await pause(page);
    const hash = await text(page, '#trace-hash');
    const fragment = (await page.evaluate(() => location.hash)).slice(1);
    check(fragment.startsWith('v1&'), `no replay link in the URL: "${fragment}"`);
    check(fragment.includes('c' + leader.slice(1)), `the link does not hold the crash: ${fragment}`);
    const replay = await newPage(browser, errors);
    await replay.goto(`${url}#${fragment}`, { waitUntil: 'load' });
    await replay.locator('#ring').waitFor({ timeout: 30_000 });
    const replayed = await text(replay, '#trace-hash');
    check(replayed === hash, `the link replays to ${replayed}, the page showed ${hash}`);
    const native = nativeHash(fragment);
    check(native.trace_hash === hash, `natively the link gives ${native.trace_hash}, the page ${hash}`);
    results.replay = { fragment, trace_hash: hash, virtual_ms: native.virtual_ms, trace_lines: native.trace_lines };
    console.log(`ok 3 replay link: ${hash} in the page, in a fresh page and natively (${native.trace_lines} lines, ${native.virtual_ms} ms)`);

    // 3b. A chaos-run link (the simulator's auto mode) ends with flotilla sim's hash.
    const seed = 7;
    await replay.goto(`${url}#v1&mode=auto&s=${seed}&t=100000000`, { waitUntil: 'load' });
    await replay.locator('#ring').waitFor({ timeout: 30_000 });
    const chaos = await text(replay, '#trace-hash');
    const sim = flotillaSim(seed);
    check(chaos === sim.trace_hash, `the page's chaos run of seed ${seed} ends at ${chaos}, flotilla sim at ${sim.trace_hash}`);
    results.chaos = { seed, trace_hash: chaos, events: sim.events, virtual_ms: sim.virtual_ms };
    console.log(`ok 3b chaos run of seed ${seed}: ${chaos} in the page and from flotilla sim --seed ${seed} --json (${sim.events} events)`);
    await shot(replay, 'chaos');
    await replay.close();

    // 4. Scenarios with planted bugs turn the checkers red.
    await playScenario(page, 'figure-8', () => document.querySelector('#safety')?.textContent === 'VIOLATED', 90_000);
    console.log(`ok 4a Figure 8 with commit-previous-term: the checkers report a violation`);
    await pause(page);
    await shot(page, 'figure8');
    await playScenario(
      page,
      'stale-read',
      () => document.querySelector('#lin-verdict')?.textContent.startsWith('NOT linearizable'),
      90_000,
    );
    console.log(`ok 4b stale read with stale-read: ${await text(page, '#lin-verdict')}`);
    await pause(page);
    await shot(page, 'stale-read');

    // Looks: phone width, dark theme, help.
    await page.click('#theme');
    if (!(await page.locator('#scenario-partition').isVisible())) await page.click('.scenarios summary');
    await page.click('#scenario-partition');
    await page.waitForTimeout(2_500);
    await shot(page, 'dark');
    await page.keyboard.press('?');
    await page.locator('#help').waitFor();
    await shot(page, 'help');
    await page.keyboard.press('Escape');
    await page.click('#theme');
    const phone = await newPage(browser, errors, { width: 390, height: 844 });
    await phone.goto(url, { waitUntil: 'load' });
    await phone.locator('#ring').waitFor({ timeout: 30_000 });
    await phone.waitForTimeout(2_000);
    await shot(phone, 'phone');
    await phone.close();

    // 5. Frames per second with ~200 messages in flight.
    const perf = await newPage(browser, errors);
    await perf.goto(`${url}#${PERF_LINK}`, { waitUntil: 'load' });
    await perf.locator('#ring').waitFor({ timeout: 30_000 });
    await perf.click('#play');
    await perf.waitForTimeout(1_000);
    const measured = await perf.evaluate(
      () =>
        new Promise((resolve) => {
          const inFlight = [];
          let frames = 0;
          const t0 = performance.now();
          const tick = (t) => {
            frames += 1;
            if (frames % 10 === 0) inFlight.push(Number(document.querySelector('#in-flight').textContent));
            if (t - t0 < 5_000) requestAnimationFrame(tick);
            else resolve({ frames, seconds: (t - t0) / 1000, inFlight });
          };
          requestAnimationFrame(tick);
        }),
    );
    const frameMs = Number(await text(perf, '#frame-ms'));
    const fps = measured.frames / measured.seconds;
    const meanInFlight = measured.inFlight.reduce((a, b) => a + b, 0) / Math.max(1, measured.inFlight.length);
    results.perf = {
      fps: Number(fps.toFixed(1)),
      page_work_ms_per_frame: frameMs,
      mean_in_flight: Math.round(meanInFlight),
      seconds: measured.seconds,
    };
    await shot(perf, 'perf');
    await perf.close();
    console.log(
      `ok 5 ${fps.toFixed(1)} frames per second with ${Math.round(meanInFlight)} messages in flight on average ` +
        `(the page's own work: ${frameMs} ms per frame)`,
    );
    check(meanInFlight >= 150, `only ${meanInFlight} messages in flight: the measurement is not the one asked for`);
    check(fps >= 20, `${fps.toFixed(1)} frames per second`);

    // Fast-forward: events per second at "max" on the default cluster with the autopilot.
    const fast = await newPage(browser, errors);
    await fast.goto(url, { waitUntil: 'load' });
    await fast.locator('#ring').waitFor({ timeout: 30_000 });
    await fast.click('#autopilot');
    await setSpeed(fast, 11);
    await fast.waitForTimeout(500);
    const before = { events: Number(await text(fast, '#events')), t: Date.now() };
    await fast.waitForTimeout(3_000);
    const after = { events: Number(await text(fast, '#events')), t: Date.now() };
    const eventsPerSecond = ((after.events - before.events) * 1000) / (after.t - before.t);
    results.max_speed = { events_per_second: Math.round(eventsPerSecond), clock: await text(fast, '#clock') };
    await fast.close();
    console.log(`ok 5b at max speed the page simulates ${Math.round(eventsPerSecond)} events per second (autopilot on)`);
  } finally {
    await fs.writeFile(path.join(ARTIFACTS, 'page-results.json'), JSON.stringify({ ...results, errors }, null, 2));
    await browser.close();
    server.closeAllConnections();
    server.close();
  }
  // 6. Nothing went wrong on the way.
  check(errors.length === 0, errors.join('\n'));
  console.log('ok 6 no console errors, page errors or failed requests');
  console.log('page tests: ok');
}

setTimeout(() => {
  console.error(`page tests: timed out after ${TOTAL_TIMEOUT_MS / 1000}s`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS).unref();

main().catch((error) => {
  console.error(`page tests: FAILED\n${error.message}`);
  process.exit(1);
});
