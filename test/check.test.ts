// `gue check`: the verdict rules, the transforms applied to protected data, the victim comparison on a tiny
// synthetic task, and the CLI on stored datasets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { memory } from '../src/engine/index.js';
import { saveDataset } from '../src/data/index.js';
import { plainVerdict, runCheck, verdictOf, type CheckRow } from '../src/protect/check.js';
import { applyTransform } from '../src/protect/transforms.js';
import { syntheticDataset, syntheticTemplates } from './helpers/synthetic.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GUE = join(ROOT, 'bin', 'gue.js');
const gue = (args: string[]) => {
  const r = spawnSync(process.execPath, [GUE, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const VICTIM = { model: 'tiny-cnn', epochs: 2, milestones: [], batchSize: 32, lr: 0.05, cropPadding: 0, flip: false, seed: 1 };

test('verdicts: share of learnable accuracy retained, inconclusive when the clean model does not learn', () => {
  assert.deepEqual(verdictOf(90, 90, 10).verdict, 'broken');
  assert.equal(verdictOf(20, 90, 10).verdict, 'holds');
  assert.equal(verdictOf(10 + 0.35 * 80, 90, 10).verdict, 'holds');
  assert.equal(verdictOf(50, 90, 10).verdict, 'weak');
  assert.equal(verdictOf(80, 90, 10).verdict, 'broken');
  assert.equal(verdictOf(12, 15, 10).verdict, 'inconclusive');
  const row = (training: string, transform: string | null, acc: number): CheckRow => ({ training, transform, testAcc: acc, curve: [acc], gap: 91 - acc, ...verdictOf(acc, 91, 10) });
  const s = plainVerdict([{ ...row('clean', null, 91), verdict: 'baseline' }, row('protected', null, 23), row('protected + JPEG q=75', 'JPEG q=75', 70), row('protected + grayscale', 'grayscale', 20)], 91, 10);
  assert.match(s, /^protection holds: a model trained on your protected data reaches 23\.0 % vs 91\.0 % on clean data/);
  assert.match(s, /protection is broken after JPEG q=75: 70\.0 %/);
  assert.match(s, /it survives grayscale \(20\.0 %\)/);
});

test('transforms: grayscale, JPEG and resize keep the shape and do what they say', async () => {
  const n = 6;
  const rgb = { images: new Uint8Array(n * 3 * 16 * 16).map((_, i) => (i * 37 + (i >> 8) * 11) % 256), labels: new Uint8Array(n), shape: [3, 16, 16] as [number, number, number], numClasses: 2, source: 's' };
  const g = await applyTransform(rgb, { kind: 'grayscale' });
  const plane = 256;
  for (let p = 0; p < plane; p++) {
    assert.equal(g.images[p], g.images[plane + p]);
    assert.equal(g.images[p], g.images[2 * plane + p]);
  }
  assert.equal(g.images[0], (19595 * rgb.images[0]! + 38470 * rgb.images[plane]! + 7471 * rgb.images[2 * plane]! + 32768) >>> 16);
  const gray = { ...rgb, images: rgb.images.slice(0, n * plane), shape: [1, 16, 16] as [number, number, number] };
  assert.deepEqual((await applyTransform(gray, { kind: 'grayscale' })).images, gray.images, 'grayscale is a no-op on gray data');
  const dist = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;
  const q95 = await applyTransform(rgb, { kind: 'jpeg', quality: 95 });
  const q10 = await applyTransform(rgb, { kind: 'jpeg', quality: 10 });
  assert.equal(q10.images.length, rgb.images.length);
  assert.ok(dist(q10.images, rgb.images) > dist(q95.images, rgb.images), 'lower quality, larger change');
  const r = await applyTransform(gray, { kind: 'resize', factor: 0.5 });
  assert.equal(r.images.length, gray.images.length);
  assert.ok(dist(r.images, gray.images) > 1);
  assert.equal(rgb.images[5], (5 * 37) % 256, 'input untouched');
  await assert.rejects(applyTransform(rgb, { kind: 'resize', factor: 1.5 }), /factor must be in \(0, 1\)/);
  await assert.rejects(applyTransform(rgb, { kind: 'jpeg', quality: 0 }), /quality/);
});

test('runCheck: identical "protected" data gives the clean accuracy exactly (verdict broken); non-twins are refused', async () => {
  const tpl = syntheticTemplates(1, { classes: 4, size: 8 });
  const before = memory().tensors;
  try {
    const train = syntheticDataset(256, 2, tpl, { size: 8 });
    const testSet = syntheticDataset(128, 3, tpl, { size: 8 });
    const r = await runCheck({ clean: train, protected: train, test: testSet }, { victim: { ...VICTIM, epochs: 5 }, transforms: [{ kind: 'grayscale' }] });
    assert.deepEqual(r.rows.map((x) => x.training), ['clean', 'protected', 'protected + grayscale']);
    assert.ok(r.cleanAcc > 35, `the tiny victim learns the task (${r.cleanAcc} %)`);
    assert.equal(r.rows[1]!.testAcc, r.cleanAcc);
    assert.equal(r.rows[2]!.testAcc, r.cleanAcc, 'grayscale of gray data changes nothing');
    assert.equal(r.rows[1]!.verdict, 'broken');
    assert.equal(r.chance, 25);
    assert.match(r.summary, /protection is broken/);
    const other = { ...train, labels: train.labels.map((y, i) => (i === 5 ? (y + 1) % 4 : y)) };
    await assert.rejects(runCheck({ clean: train, protected: other, test: testSet }, { victim: VICTIM, transforms: [] }), /disagree on the label of image 5; they are not twins/);
    assert.equal(memory().tensors, before, 'no tensors leaked');
  } finally {
    tpl.dispose();
  }
});

test('CLI: gue check on stored protected/clean/test datasets, --json, and usage errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-check-'));
  const tpl = syntheticTemplates(1, { classes: 4, size: 8 });
  try {
    const train = syntheticDataset(128, 2, tpl, { size: 8 });
    const prot = { ...train, images: train.images.map((v, i) => Math.min(255, v + (i % 3))) };
    saveDataset(join(dir, 'clean'), train);
    saveDataset(join(dir, 'prot'), prot);
    saveDataset(join(dir, 'test'), syntheticDataset(64, 3, tpl, { size: 8 }));
    let r = gue(['check', '--protected', join(dir, 'prot'), '--clean', join(dir, 'clean'), '--test', join(dir, 'test'), '--model', 'tiny-cnn', '--epochs', '1',
      '--batch-size', '32', '--crop-padding', '0', '--jpeg', '90', '--json', '--out', join(dir, 'res')]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out.trim().split('\n').pop()!) as { rows: { training: string; test_acc: number; verdict: string }[]; summary: string; train_size: number; test_size: number };
    assert.deepEqual(j.rows.map((x) => x.training), ['clean', 'protected', 'protected + JPEG q=90']);
    assert.equal(j.train_size, 128);
    assert.equal(j.test_size, 64);
    for (const row of j.rows) assert.ok(row.test_acc >= 0 && row.test_acc <= 100 && ['baseline', 'holds', 'weak', 'broken', 'inconclusive'].includes(row.verdict));
    assert.ok(j.summary.length > 10);
    assert.ok(existsSync(join(dir, 'res', 'check.json')));
    assert.equal((JSON.parse(readFileSync(join(dir, 'res', 'check.json'), 'utf8')) as { command: string }).command, 'check');
    for (const [args, re] of [
      [['check'], /exactly one of --generator/],
      [['check', '--generator', 'g', '--protected', 'p'], /exactly one of --generator/],
      [['check', '--protected', join(dir, 'nope')], /is not a dataset written by 'gue poison'/],
      [['check', '--generator', 'g', '--jpeg', '101'], /--jpeg takes qualities in 1\.\.100/],
      [['check', '--generator', 'g', '--resize', '2'], /--resize takes factors in \(0, 1\)/],
    ] as [string[], RegExp][]) {
      r = gue(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re);
    }
  } finally {
    tpl.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
