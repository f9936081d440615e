// `gue attack` as a user runs it: usage errors exit 2 with a message and leave nothing behind, --list
// shows every registered attack, and a small real run on a Fashion-MNIST subset writes a dataset folder
// that `gue evaluate --data` trains on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ATTACKS } from '../src/attacks/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GUE = join(ROOT, 'bin', 'gue.js');
const FM = '/usr/share/datasets/fashion-mnist';

function gue(args: string[], timeout = 300_000) {
  // One libtorch thread: these runs use tiny models, for which a second thread only adds contention.
  const r = spawnSync(process.execPath, [GUE, ...args], { encoding: 'utf8', timeout, env: { ...process.env, GUE_NUM_THREADS: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const noStack = (s: string) => assert.ok(!/\n\s+at .+:\d+:\d+/.test(s), `stack trace leaked:\n${s}`);
const last = (s: string) => JSON.parse(s.trim().split('\n').pop()!) as Record<string, unknown>;

test('gue attack: usage errors exit 2 with a clear message and write nothing', { skip: !existsSync(FM) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-attack-'));
  const out = join(dir, 'out');
  try {
    const cases: [string[], RegExp][] = [
      [['attack', '--out', out], /--method is required/],
      [['attack', '--method', 'lsp'], /--out is required/],
      [['attack', '--method', 'nope', '--out', out], /unknown attack 'nope'; available: random, /],
      [['attack', '--method', 'em-sample', '--out', out, '--opt', 'bogus=1'], /unknown option 'bogus' for attack 'em-sample'; available: model/],
      [['attack', '--method', 'tap', '--out', out, '--opt', 'steps=many'], /option 'steps' of attack 'tap' must be a number/],
      [['attack', '--method', 'em-class', '--out', out, '--opt', 'model=vgg99'], /option 'model' of attack 'em-class' must be one of/],
      [['attack', '--method', 'ar', '--out', out, '--opt', 'crop'], /expected key=value, got 'crop'/],
      [['attack', '--method', 'tap', '--out', out, '--norm', 'l2'], /attack 'tap' supports --norm linf, not l2/],
      [['attack', '--method', 'ar', '--out', out, '--norm', 'l2', '--eps', '8'], /with --norm l2 give the radius with --eps-l2/],
      [['attack', '--method', 'ar', '--out', out, '--eps-l2', '1'], /--eps-l2 needs --norm l2/],
      [['attack', '--method', 'ar', '--out', out, '--norm', 'l2', '--eps-l2', '40', '--train-size', '64'], /--eps-l2 must be in \(0, 28\.00\]/],
      [['attack', '--method', 'lsp', '--out', out, '--opt', 'patchSize=28', '--train-size', '64'], /patchSize/],
      [['attack', '--method', 'random', '--out', out, '--norm', 'linf2'], /--norm must be one of linf, l2/],
      [['attack', '--method', 'em-sample', '--out', out, '--opt', 'pgdSteps=2', '--opt', 'maxRounds=1'], /give --opt once, as a comma list/],
    ];
    for (const [args, re] of cases) {
      const r = gue(args);
      assert.equal(r.code, 2, `${args.join(' ')} → exit ${r.code}\n${r.err}`);
      assert.match(r.err, re, args.join(' '));
      noStack(r.err);
      assert.equal(existsSync(out), false, `${args.join(' ')} left ${out} behind`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gue attack --list shows every registered attack with its paper and options', () => {
  const r = gue(['attack', '--list']);
  assert.equal(r.code, 0, r.err);
  for (const [name, a] of Object.entries(ATTACKS)) {
    assert.ok(r.out.includes(`${name}  [`), `--list lacks ${name}`);
    assert.ok(r.out.includes(a.cite), `--list lacks the citation of ${name}`);
    for (const [k, s] of Object.entries(a.options)) assert.ok(r.out.includes(`${k}=${String(s.default)}`), `--list lacks ${name} option ${k}`);
  }
  const j = gue(['attack', '--list', '--json']);
  assert.equal(j.code, 0, j.err);
  const attacks = last(j.out).attacks as Record<string, { cite: string; options: Record<string, unknown> }>;
  assert.deepEqual(Object.keys(attacks), Object.keys(ATTACKS));
  assert.equal(attacks['em-sample']!.cite, ATTACKS['em-sample']!.cite);
});

test('gue attack on a Fashion-MNIST subset → gue evaluate --data', { skip: !existsSync(FM) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-attack-'));
  try {
    const lsp = join(dir, 'lsp');
    let r = gue(['attack', '--method', 'lsp', '--norm', 'l2', '--eps-l2', '0.5', '--train-size', '300', '--seed', '3', '--out', lsp, '--png', join(dir, 'png'), '--json']);
    assert.equal(r.code, 0, r.err);
    const res = last(r.out);
    assert.equal(res.images, 300);
    assert.equal(res.norm, 'l2');
    assert.ok((res.l2_max as number) <= 0.5 && (res.l2_max as number) > 0.4, `L2 ${String(res.l2_max)}`);
    assert.equal(readdirSync(join(dir, 'png')).length, 10);
    const meta = JSON.parse(readFileSync(join(lsp, 'dataset.json'), 'utf8')) as Record<string, unknown>;
    const m = (meta.meta ?? meta) as Record<string, unknown>;
    assert.equal(m.attack, 'lsp');
    assert.equal(m.norm, 'l2');
    assert.equal(m.epsL2, 0.5);
    assert.deepEqual(m.options, { patchSize: 8, classSep: 10 });
    assert.ok(typeof (m.versions as Record<string, unknown>).gue === 'string');
    r = gue(['attack', '--method', 'lsp', '--train-size', '300', '--out', lsp]);
    assert.equal(r.code, 2, 'refuses to overwrite');
    assert.match(r.err, /already holds a dataset/);

    const em = join(dir, 'em');
    r = gue(['attack', '--method', 'em-sample', '--eps', '8', '--train-size', '256', '--opt', 'model=tiny-cnn,maxRounds=1,pgdSteps=2,trainSteps=2', '--out', em, '--json']);
    assert.equal(r.code, 0, r.err);
    const e = last(r.out);
    assert.ok((e.linf255 as number) <= 8 && (e.linf255 as number) >= 1);
    assert.equal((e.options as Record<string, unknown>).model, 'tiny-cnn');

    r = gue(['evaluate', '--data', em, '--epochs', '1', '--model', 'tiny-cnn', '--json']);
    assert.equal(r.code, 0, r.err);
    const ev = last(r.out);
    assert.ok((ev.test_acc as number) >= 0 && (ev.test_acc as number) <= 100);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
