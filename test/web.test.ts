// The browser page end to end, as a person uses it: `gue serve` with a small seeded generator exported to ONNX,
// Debian's Chromium driven by playwright-core loads the page, photos are given through the file picker and
// through a drop, the protected PNGs are downloaded and decoded with sharp: same size, alpha intact, and the
// L∞ bound holds on the bytes against the originals. Every request the browser made must have stayed on the
// local server. Also: the server's MIME types, its refusal of uploads, and its error messages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Generator, memory } from '../src/engine/index.js';
import { UNet } from '../src/nn/models/index.js';
import { exportOnnx } from '../src/export/onnx.js';
import { WEB_ROOT } from '../src/serve/server.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GUE = join(ROOT, 'bin', 'gue.js');
const CHROMIUM = '/usr/bin/chromium';
const EPS = 8 / 255;
const BOUND = 8;

let dir = '';
let modelPath = '';
let server: ChildProcess | null = null;
let url = '';
let context: BrowserContext | null = null;

function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  assert.ok(r.status === 0 && existsSync(CHROMIUM), 'Debian chromium is needed for this test: apt-get install chromium (npm test installs it)');
}

/** Starts `gue serve` and resolves with its JSON start line. */
function startGue(args: string[]): Promise<{ child: ChildProcess; info: { url: string; port: number } }> {
  return new Promise((resolve, reject) => {
    // detached: its own process group, so the test can send SIGINT to the group as Ctrl-C does.
    const child = spawn(process.execPath, [GUE, 'serve', '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{') && l.includes('"url"'));
      if (line) resolve({ child, info: JSON.parse(line) as { url: string; port: number } });
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`gue serve exited with ${code} before listening:\n${err}`)));
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });
}

/** A smooth colour photo with an opaque or partly transparent alpha, as PNG. */
async function photo(w: number, h: number, alpha: boolean): Promise<Buffer> {
  const px = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = 4 * (y * w + x);
      px[i] = Math.round(127.5 + 127.5 * Math.sin(x / 9));
      px[i + 1] = Math.round(255 * (y / Math.max(1, h - 1)));
      px[i + 2] = (x * 7 + y * 3) % 256;
      px[i + 3] = alpha ? (x < w / 2 ? 255 : 128) : 255;
    }
  }
  return sharp(px, { raw: { width: w, height: h, channels: 4 } }).png().toBuffer();
}

async function raw(buf: Buffer): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(buf).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

before(async () => {
  ensureChromium();
  assert.ok(existsSync(join(WEB_ROOT, 'index.html')), `the page is not built (${WEB_ROOT}); run npm run build:web`);
  dir = mkdtempSync(join(tmpdir(), 'gue-web-'));
  const live = memory().tensors;
  const gen = new UNet({ channels: 3, width: 4, generator: new Generator(11) });
  gen.eval();
  const bytes = exportOnnx(gen, { eps: EPS, channels: 3 });
  gen.dispose();
  assert.equal(memory().tensors, live, 'no tensor leaked by building and exporting the generator');
  modelPath = join(dir, 'g.onnx');
  writeFileSync(modelPath, bytes);
  const s = await startGue(['--generator', modelPath, '--port', '0']);
  server = s.child;
  url = s.info.url;
  context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await context?.close();
  if (server && server.exitCode === null) {
    process.kill(-server.pid!, 'SIGINT');
    await exitOf(server);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('gue serve: page, wasm and model with the right types; no uploads; clear errors', async () => {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(res.headers.get('content-security-policy') ?? '', /connect-src 'self'/);
  const wasm = await fetch(new URL('ort/ort-wasm-simd-threaded.wasm', url));
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  const model = await fetch(new URL('model.onnx', url));
  assert.deepEqual(new Uint8Array(await model.arrayBuffer()), new Uint8Array(readFileSync(modelPath)));
  const meta = await (await fetch(new URL('model.json', url))).json() as { eps: number; channels: number };
  assert.equal(meta.channels, 3);
  assert.ok(Math.abs(meta.eps - EPS) < 1e-6);
  assert.equal((await fetch(new URL('model.onnx', url), { method: 'POST', body: 'x' })).status, 405);
  assert.equal((await fetch(new URL('../../etc/passwd', url))).status, 404);
  assert.equal((await fetch(`${url}%2e%2e/%2e%2e/etc/passwd`)).status, 404);

  // Errors a user can cause: a busy port, a file that is not a generator, a missing one.
  const port = Number(new URL(url).port);
  const gue = (args: string[]) => spawnSync(process.execPath, [GUE, 'serve', ...args], { encoding: 'utf8', timeout: 60_000 });
  let r = gue(['--generator', modelPath, '--port', String(port)]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
  writeFileSync(join(dir, 'not.onnx'), 'hello');
  r = gue(['--generator', join(dir, 'not.onnx'), '--port', '0']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /not\.onnx is not an ONNX model/);
  r = gue(['--generator', join(dir, 'missing.onnx'), '--port', '0']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /missing\.onnx: no such generator/);
  r = gue(['--port', 'eighty']);
  assert.equal(r.status, 2);
  for (const e of [r.stderr]) assert.ok(!/\n\s+at .+:\d+:\d+/.test(e), 'no stack trace');
});

test('Ctrl-C stops gue serve cleanly', async () => {
  const port = await freePort();
  const s = await startGue(['--generator', modelPath, '--port', String(port)]);
  assert.equal(s.info.port, port);
  assert.equal((await fetch(s.info.url)).status, 200);
  process.kill(-s.child.pid!, 'SIGINT');
  assert.equal(await exitOf(s.child), 0);
  await assert.rejects(fetch(s.info.url), 'the port is closed after Ctrl-C');
});

async function waitCard(page: Page, name: string): Promise<string> {
  const card = page.locator(`article.card[data-file="${name}"]`);
  await card.and(page.locator('[data-state="done"], [data-state="error"]')).waitFor({ timeout: 60_000 });
  return (await card.getAttribute('data-state')) ?? '';
}

test('the page protects dropped photos locally; downloads decode and keep the L∞ bound', async () => {
  const page = await context!.newPage();
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready !== undefined, undefined, { timeout: 60_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'true', await page.locator('#model-status').innerText());
  assert.match(await page.locator('#model-status').innerText(), /ε = 8\/255/);
  assert.match(await page.locator('#privacy').innerText(), /Nothing is uploaded/);

  // 1. through the file picker: an opaque photo larger than one tile (612×75: 2 tiles wide, not a multiple of 8).
  const a = await photo(612, 75, false);
  writeFileSync(join(dir, 'wide.png'), a);
  await page.setInputFiles('#files', join(dir, 'wide.png'));
  assert.equal(await waitCard(page, 'wide.png'), 'done', await page.locator('article.card[data-file="wide.png"] .status').innerText());

  // 2. through a drop event: a small photo with a half-transparent half.
  const b = await photo(37, 29, true);
  await page.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'small alpha.png', { type: 'image/png' }));
    document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, b.toString('base64'));
  assert.equal(await waitCard(page, 'small alpha.png'), 'done', await page.locator('article.card[data-file="small alpha.png"] .status').innerText());

  // 3. files the page cannot read get a clear message, not a crash.
  writeFileSync(join(dir, 'notes.txt'), 'not a photo');
  writeFileSync(join(dir, 'scan.tif'), Buffer.from([0x49, 0x49, 0x2a, 0]));
  writeFileSync(join(dir, 'broken.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
  await page.setInputFiles('#files', [join(dir, 'notes.txt'), join(dir, 'scan.tif'), join(dir, 'broken.png')]);
  assert.equal(await waitCard(page, 'broken.png'), 'error');
  assert.match(await page.locator('article.card[data-file="notes.txt"] .status').innerText(), /not an image/);
  assert.match(await page.locator('article.card[data-file="scan.tif"] .status').innerText(), /TIFF files cannot be read by a browser/);
  assert.match(await page.locator('article.card[data-file="broken.png"] .status').innerText(), /not an image the browser can decode/);

  for (const [name, original, file] of [['wide.png', a, 'wide.protected.png'], ['small alpha.png', b, 'small alpha.protected.png']] as const) {
    const card = page.locator(`article.card[data-file="${name}"]`);
    const [dl] = await Promise.all([page.waitForEvent('download'), card.locator('a.download').click()]);
    assert.equal(dl.suggestedFilename(), file);
    const saved = join(dir, `dl-${file}`);
    await dl.saveAs(saved);
    const got = await raw(readFileSync(saved));
    const ref = await raw(original);
    assert.equal(got.width, ref.width, `${name}: width`);
    assert.equal(got.height, ref.height, `${name}: height`);
    let linf = 0;
    let changed = 0;
    for (let i = 0; i < ref.data.length; i++) {
      const d = Math.abs(got.data[i]! - ref.data[i]!);
      if (i % 4 === 3) {
        assert.equal(d, 0, `${name}: alpha is kept`);
        continue;
      }
      linf = Math.max(linf, d);
      if (d > 0) changed++;
    }
    assert.ok(linf <= BOUND, `${name}: L∞ ${linf}/255 > ${BOUND}/255`);
    assert.ok(changed > ref.data.length / 8, `${name}: the photo was perturbed (${changed} values changed)`);
    // The page reports the same L∞ as measured on the downloaded bytes.
    assert.equal(Number(await card.getAttribute('data-linf')), linf, `${name}: reported L∞`);
  }

  // Download all: one ZIP with both protected photos.
  const [zipDl] = await Promise.all([page.waitForEvent('download'), page.click('#download-all')]);
  const zip = readFileSync(await zipDl.path());
  assert.equal(zip.readUInt32LE(0), 0x04034b50, 'a ZIP file');
  for (const n of ['wide.protected.png', 'small alpha.protected.png']) assert.ok(zip.includes(Buffer.from(n)), `the ZIP holds ${n}`);

  const origin = new URL(url).origin;
  const away = requests.filter((u) => !u.startsWith(origin + '/') && !u.startsWith('blob:') && !u.startsWith('data:'));
  assert.deepEqual(away, [], 'every request stayed on the local server');
  assert.deepEqual(consoleErrors, []);
  await page.close();
});
