// The `gue` CLI as a user runs it: usage errors are messages (exit 2, no stack trace), failures leave no
// partial output, and the main commands work end to end on a small case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GUE = join(ROOT, 'bin', 'gue.js');

function gue(args: string[], timeout = 300_000) {
  const r = spawnSync(process.execPath, [GUE, ...args], { encoding: 'utf8', timeout });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const noStack = (s: string) => assert.ok(!/\n\s+at .+:\d+:\d+/.test(s), `stack trace leaked:\n${s}`);

test('usage errors: unknown command, unknown flag, bad values, missing required flags', () => {
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['demo', '--bogus'], /unknown flag --bogus/],
    [['demo', '--gen-steps', 'ten'], /--gen-steps must be a number/],
    [['demo', '--gen-steps', '1.5'], /--gen-steps must be an integer/],
    [['demo', '--train-size', '3'], /--train-size must be at least 256/],
    [['train', '--payoff', 'nope'], /--payoff must be one of surrogate, ce, ce-clip/],
    [['train', '--gen-grad', 'w'], /--gen-grad must be one of q, g/],
    [['train', '--cls-grad', 'sgd'], /--cls-grad must be one of bome, erm, pessimistic/],
    [['train', '--out', 'x', '--cls-grad', 'pessimistic'], /--cls-grad pessimistic needs --payoff ce/],
    [['evaluate'], /exactly one of --data/],
    [['evaluate', '--clean', '--data', 'x'], /exactly one of --data/],
    [['poison', '--out', 'x'], /--generator is required/],
    [['train', '--out', 'x', '--dataset', 'cifar10'], /needs --data-dir/],
    [['demo', 'extra'], /unexpected argument 'extra'/],
    [['demo', '--gen-steps', '5'], /--gen-steps applies only with --train/],
    [['demo', '--eps', '16', '--out', 'x'], /--eps, --out apply only with --train/],
    [['demo', '--train', '--generator', 'x'], /--generator and --train exclude each other/],
    [['demo', '--generator', '/nonexistent/gen'], /cannot open the generator \/nonexistent\/gen/],
  ];
  for (const [args, re] of cases) {
    const r = gue(args);
    assert.equal(r.code, 2, `${args.join(' ')} → exit ${r.code}\n${r.err}`);
    assert.match(r.err, re, args.join(' '));
    noStack(r.err);
  }
});

test('runtime errors are one-line messages with exit 1 and leave originals intact', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-cli-'));
  try {
    // A generator path that does not exist.
    let r = gue(['poison', '--generator', join(dir, 'nope'), '--out', join(dir, 'p')]);
    assert.equal(r.code, 1);
    assert.match(r.err, /nope/);
    noStack(r.err);
    assert.equal(existsSync(join(dir, 'p', 'dataset.json')), false, 'no partial output');
    // A corrupt Fashion-MNIST folder: the message names the file.
    const bad = join(dir, 'fm');
    mkdirSync(bad);
    writeFileSync(join(bad, 'train-images-idx3-ubyte.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
    writeFileSync(join(bad, 'train-labels-idx1-ubyte.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
    r = gue(['evaluate', '--clean', '--data-dir', bad, '--epochs', '1']);
    assert.equal(r.code, 1);
    assert.match(r.err, /train-images-idx3-ubyte\.gz.*corrupt gzip/);
    noStack(r.err);
    // Resume of a folder without a checkpoint.
    r = gue(['train', '--out', join(dir, 'empty'), '--resume']);
    assert.equal(r.code, 1);
    assert.match(r.err, /nothing to resume/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('help for every command', () => {
  for (const c of ['demo', 'train', 'poison', 'evaluate', 'info']) {
    const r = gue([c, '--help']);
    assert.equal(r.code, 0, c);
    assert.match(r.out, /Usage: gue /);
  }
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V', 'version']) {
    const r = gue([flag]);
    assert.equal(r.code, 0, flag);
    assert.equal(r.out, `gue ${pkg.version}\n`, flag);
  }
});

test('train --resume of a run with proxy victims needs no --proxy-every again', { skip: !existsSync('/usr/share/datasets/fashion-mnist') }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-cli-proxy-'));
  try {
    const run = join(dir, 'run');
    const base = ['--train-size', '256', '--epochs', '1', '--batch-size', '128', '--inner-steps', '1', '--path', 'fast', '--json'];
    let r = gue(['train', '--out', run, ...base, '--max-steps', '1', '--proxy-every', '1', '--proxy-train-size', '128', '--proxy-epochs', '1']);
    assert.equal(r.code, 0, r.err);
    // Before the fix this failed: 'proxy victims (proxyEvery > 0) need the clean test set'.
    r = gue(['train', '--out', run, '--resume', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out.trim().split('\n').pop()!).steps, 2);
    const steps = readFileSync(join(run, 'proxy.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step?: number }).map((x) => x.step);
    assert.ok(steps.includes(1) && steps.includes(2), `proxy rows for steps 1 and 2: ${JSON.stringify(steps)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('train → poison → evaluate on a Fashion-MNIST subset, and demo --json', { skip: !existsSync('/usr/share/datasets/fashion-mnist') }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gue-cli-'));
  try {
    const run = join(dir, 'run');
    let r = gue(['train', '--out', run, '--train-size', '512', '--epochs', '1', '--batch-size', '128', '--max-steps', '2', '--inner-steps', '2', '--path', 'fast', '--json']);
    assert.equal(r.code, 0, r.err);
    const tr = JSON.parse(r.out.trim().split('\n').pop()!);
    assert.equal(tr.steps, 2);
    assert.equal(tr.finished, false);
    for (const f of ['options.json', 'metrics.jsonl', 'checkpoint.json', 'checkpoint.safetensors', 'generator.json', 'generator.safetensors']) {
      assert.ok(existsSync(join(run, f)), f);
    }
    r = gue(['train', '--out', run, '--resume', '--json', '--inner-steps', '3']);
    assert.equal(r.code, 1, 'changing T on resume is refused');
    assert.match(r.err, /different innerSteps/);
    r = gue(['train', '--out', run, '--resume', '--json', '--gen-grad', 'g']);
    assert.equal(r.code, 1, 'changing the generator direction on resume is refused');
    assert.match(r.err, /different genGrad/);
    r = gue(['train', '--out', run, '--resume', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out.trim().split('\n').pop()!).steps, 4);

    const prot = join(dir, 'protected');
    r = gue(['poison', '--generator', run, '--out', prot, '--train-size', '512', '--json', '--png', join(dir, 'png')]);
    assert.equal(r.code, 0, r.err);
    const po = JSON.parse(r.out.trim().split('\n').pop()!);
    assert.equal(po.images, 512);
    assert.ok(po.linf255 <= 8);
    assert.equal(readdirSync(join(dir, 'png')).length, 10);
    r = gue(['poison', '--generator', run, '--out', prot, '--train-size', '512']);
    assert.equal(r.code, 2, 'refuses to overwrite');
    // A shipped generator by name: the class-conditional one protects the labelled training set.
    r = gue(['poison', '--generator', 'fmnist-28x28-classwise', '--out', join(dir, 'classwise'), '--train-size', '256', '--json']);
    assert.equal(r.code, 0, r.err);
    const cw = JSON.parse(r.out.trim().split('\n').pop()!);
    assert.equal(cw.images, 256);
    assert.ok(cw.linf255 === 8 && cw.mean_abs255 > 2, `classwise: L∞ ${cw.linf255}, mean |δ| ${cw.mean_abs255}`);

    r = gue(['evaluate', '--data', prot, '--epochs', '1', '--json', '--out', join(dir, 'eval')]);
    assert.equal(r.code, 0, r.err);
    const ev = JSON.parse(r.out.trim().split('\n').pop()!);
    assert.ok(ev.test_acc >= 0 && ev.test_acc <= 100);
    assert.ok(existsSync(join(dir, 'eval', 'results.json')));

    r = gue(['demo', '--train', '--train-size', '256', '--gen-steps', '2', '--victim-epochs', '1', '--json']);
    assert.equal(r.code, 0, r.err);
    const d = JSON.parse(r.out.trim().split('\n').pop()!);
    assert.equal(typeof d.clean_acc, 'number');
    assert.equal(typeof d.poisoned_acc, 'number');
    assert.equal(d.gen_steps, 2);
    assert.equal(d.generator, null);

    // Default: the shipped generator, with its own ε and step count; the same for the run folder trained above.
    r = gue(['demo', '--train-size', '256', '--victim-epochs', '1', '--json']);
    assert.equal(r.code, 0, r.err);
    const s = JSON.parse(r.out.trim().split('\n').pop()!);
    // The demo's default is the class-conditional generator (the labelled subset is what it protects).
    assert.match(s.generator, /assets\/generators\/fmnist-28x28-classwise$/);
    assert.equal(s.generator_arch, 'class-templates');
    assert.equal(s.eps255, 8);
    assert.equal(s.linf255, 8);
    assert.equal(s.gen_steps, 600);
    r = gue(['demo', '--generator', 'fmnist-28x28-w16', '--train-size', '256', '--victim-epochs', '1', '--json']);
    assert.equal(r.code, 0, r.err);
    const u = JSON.parse(r.out.trim().split('\n').pop()!);
    assert.deepEqual([u.generator_arch, u.gen_steps], ['unet', 706]);
    r = gue(['demo', '--generator', join(dir, 'run'), '--train-size', '256', '--victim-epochs', '1', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out.trim().split('\n').pop()!).generator, join(dir, 'run'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
