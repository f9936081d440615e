// The browser page end to end, as a person uses it: `gue serve` with a small seeded generator exported to ONNX,
// Debian's Chromium driven by playwright-core loads the page, photos are given through the file picker and
// through a drop, the protected PNGs are downloaded and decoded with sharp: same size, alpha intact, and the
// L∞ bound holds on the bytes against the originals. Every request the browser made must have stayed on the
// local server. Also: the server's MIME types, its refusal of uploads, and its error messages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Generator, memory } from '../src/engine/index.js';
import { UNet } from '../src/nn/models/index.js';
import { exportOnnx } from '../src/export/onnx.js';
import { saveGenerator } from '../src/game/index.js';
import { WEB_ROOT, checkBuilt, startServer } from '../src/serve/server.js';
import { resolveServedModel } from '../src/serve/model.js';

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
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
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
async function photo(w: number, h: number, alpha: boolean, interlaced = false): Promise<Buffer> {
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
  return sharp(px, { raw: { width: w, height: h, channels: 4 } }).png({ progressive: interlaced }).toBuffer();
}

async function raw(buf: Buffer): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(buf).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
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

  // Errors a user can cause (the CLI prints them as one line, exit 1): a busy port, a file that is not a
  // generator, a missing one, a folder without one, an unbuilt page.
  const port = Number(new URL(url).port);
  await assert.rejects(startServer({ model: { bytes: new Uint8Array(0), info: { eps: EPS, channels: 3, metadata: {} }, source: 'x' }, port }),
    new RegExp(`^Error: port ${port} on 127\\.0\\.0\\.1 is already in use; pass another --port`));
  writeFileSync(join(dir, 'not.onnx'), 'hello');
  await assert.rejects(resolveServedModel(join(dir, 'not.onnx')), /not\.onnx is not an ONNX model/);
  await assert.rejects(resolveServedModel(join(dir, 'missing.onnx')), /missing\.onnx: no such generator/);
  mkdirSync(join(dir, 'empty'));
  await assert.rejects(resolveServedModel(join(dir, 'empty')), /is a folder without a generator/);
  assert.throws(() => checkBuilt(join(dir, 'empty')), /the browser page is not built .*npm run build:web/);

  // A libtorch generator (as `gue train` writes it) is exported to ONNX in memory; its run folder works too.
  const run = join(dir, 'run');
  mkdirSync(run);
  const g1 = new UNet({ channels: 1, width: 4, generator: new Generator(5) });
  saveGenerator(join(run, 'generator'), g1, {
    kind: 'gue-generator', eps: 4 / 255, channels: 1, width: 4, imageShape: [1, 28, 28], numClasses: 10, dataset: 'test', steps: 0, options: {}, versions: {},
  });
  g1.dispose();
  for (const p of [run, join(run, 'generator'), join(run, 'generator.json')]) {
    const m = await resolveServedModel(p);
    assert.equal(m.info.channels, 1, p);
    assert.ok(Math.abs(m.info.eps - 4 / 255) < 1e-6, p);
    assert.match(m.source, /exported to ONNX/);
  }
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

  // 2. through a drop event: a small interlaced (Adam7) PNG with a half-transparent half.
  const b = await photo(37, 29, true, true);
  await page.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'small alpha.png', { type: 'image/png' }));
    document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, b.toString('base64'));
  assert.equal(await waitCard(page, 'small alpha.png'), 'done', await page.locator('article.card[data-file="small alpha.png"] .status').innerText());

  // 3. a grayscale JPEG (the browser's own decoder; protected as gray, written as a gray PNG).
  const grayPx = Buffer.alloc(50 * 40);
  for (let i = 0; i < grayPx.length; i++) grayPx[i] = Math.round(127.5 + 100 * Math.sin(i / 13));
  const c = await sharp(grayPx, { raw: { width: 50, height: 40, channels: 1 } }).jpeg({ quality: 95 }).toBuffer();
  writeFileSync(join(dir, 'gray.jpg'), c);
  await page.setInputFiles('#files', join(dir, 'gray.jpg'));
  assert.equal(await waitCard(page, 'gray.jpg'), 'done', await page.locator('article.card[data-file="gray.jpg"] .status').innerText());

  // 4. files the page cannot read get a clear message, not a crash.
  writeFileSync(join(dir, 'notes.txt'), 'not a photo');
  writeFileSync(join(dir, 'scan.tif'), Buffer.from([0x49, 0x49, 0x2a, 0]));
  writeFileSync(join(dir, 'broken.png'), Buffer.concat([a.subarray(0, 20)]));
  writeFileSync(join(dir, 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
  await page.setInputFiles('#files', [join(dir, 'notes.txt'), join(dir, 'scan.tif'), join(dir, 'broken.png'), join(dir, 'broken.jpg')]);
  assert.equal(await waitCard(page, 'broken.jpg'), 'error');
  for (const n of ['notes.txt', 'scan.tif', 'broken.png']) assert.equal(await waitCard(page, n), 'error', n);
  assert.match(await page.locator('article.card[data-file="broken.jpg"] .status').innerText(), /not an image the browser can decode/);
  assert.match(await page.locator('article.card[data-file="notes.txt"] .status').innerText(), /not an image/);
  assert.match(await page.locator('article.card[data-file="scan.tif"] .status').innerText(), /TIFF files cannot be read by a browser/);
  assert.match(await page.locator('article.card[data-file="broken.png"] .status').innerText(), /this PNG cannot be decoded: the PNG is truncated/);

  const cases = [['wide.png', a, 'wide.protected.png'], ['small alpha.png', b, 'small alpha.protected.png'], ['gray.jpg', c, 'gray.protected.png']] as const;
  for (const [name, original, file] of cases) {
    const card = page.locator(`article.card[data-file="${name}"]`);
    const [dl] = await Promise.all([page.waitForEvent('download'), card.locator('a.download').click()]);
    assert.equal(dl.suggestedFilename(), file);
    const saved = join(dir, `dl-${file}`);
    await dl.saveAs(saved);
    const meta = await sharp(saved).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.channels, name === 'gray.jpg' ? 1 : name === 'small alpha.png' ? 4 : 3, `${name}: channels kept`);
    const got = await raw(readFileSync(saved));
    const ref = await raw(original);
    assert.equal(got.width, ref.width, `${name}: width`);
    assert.equal(got.height, ref.height, `${name}: height`);
    let linf = 0;
    let changed = 0;
    let se = 0;
    for (let i = 0; i < ref.data.length; i++) {
      const d = Math.abs(got.data[i]! - ref.data[i]!);
      if (i % 4 === 3) {
        assert.equal(d, 0, `${name}: alpha is kept`);
        continue;
      }
      linf = Math.max(linf, d);
      se += d * d;
      if (d > 0) changed++;
    }
    assert.ok(linf <= BOUND, `${name}: L∞ ${linf}/255 > ${BOUND}/255`);
    assert.ok(changed > ref.data.length / 8, `${name}: the photo was perturbed (${changed} values changed)`);
    // The page reports the same L∞ as measured on the downloaded bytes.
    assert.equal(Number(await card.getAttribute('data-linf')), linf, `${name}: reported L∞`);
    // PSNR over the colour values (gray photos: sharp's RGB expansion repeats the same value three times).
    const psnr = 10 * Math.log10((255 * 255) / (se / ((ref.data.length / 4) * 3)));
    assert.ok(Math.abs(Number(await card.getAttribute('data-psnr')) - psnr) < 1e-6, `${name}: reported PSNR ${await card.getAttribute('data-psnr')} vs ${psnr}`);
    const ssim = Number(await card.getAttribute('data-ssim'));
    assert.ok(ssim > 0.5 && ssim < 1, `${name}: SSIM ${ssim} of a perturbed photo is below 1 and near it`);
  }

  // Download all: one ZIP with the three protected photos.
  const [zipDl] = await Promise.all([page.waitForEvent('download'), page.click('#download-all')]);
  const zip = readFileSync(await zipDl.path());
  assert.equal(zip.readUInt32LE(0), 0x04034b50, 'a ZIP file');
  for (const n of cases.map((k) => k[2])) assert.ok(zip.includes(Buffer.from(n)), `the ZIP holds ${n}`);

  const origin = new URL(url).origin;
  const away = requests.filter((u) => !u.startsWith(origin + '/') && !u.startsWith('blob:') && !u.startsWith('data:'));
  assert.deepEqual(away, [], 'every request stayed on the local server');
  assert.deepEqual(consoleErrors, []);
  await page.close();
});

test('Ctrl-C stops gue serve cleanly', async () => {
  assert.equal((await fetch(url)).status, 200);
  process.kill(-server!.pid!, 'SIGINT');
  assert.equal(await exitOf(server!), 0);
  await assert.rejects(fetch(url), 'the port is closed after Ctrl-C');
});
