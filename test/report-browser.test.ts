// `gue report` pages as a reader sees them: headless Chromium (Debian's `chromium`, driven by playwright-core)
// loads the generated file and we check that every planned chart is drawn (an SVG with line paths and, where
// planned, one dot per data point and a min/max band), every table has the planned rows and numbers, the page
// makes no request beyond its own file, and the console shows no error. Inputs are FIXTURE DATA
// (test/report-fixtures.ts). `npm test` installs chromium (scripts/setup.mjs --test).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildReport, planItems, type LineFigure, type ReportPlan, type TableFigure } from '../src/report/index.js';
import { writeAllFixtures } from './report-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const root = mkdtempSync(join(tmpdir(), 'gue-report-browser-'));
let browser: Browser;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (npm test runs scripts/setup.mjs --test, which does)`);
  // chromium.launch gives every browser a fresh temporary profile (user-data-dir) and removes it on close.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  await browser?.close();
  rmSync(root, { recursive: true, force: true });
});

interface Loaded {
  page: Page;
  problems: string[];
}

/** Opens a report file, recording console errors, page errors and any request that leaves the file. */
async function open(file: string): Promise<Loaded> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    if (r.url() !== pathToFileURL(file).href) problems.push(`request: ${r.url()}`);
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, problems };
}

/** What the browser drew for a chart: its SVG size and the number of marks of each kind. */
async function drawn(page: Page, id: string) {
  return page.evaluate((figId) => {
    const fig = document.getElementById(figId);
    if (!fig) return null;
    const svg = fig.querySelector('svg[class^="plot-"]') as SVGSVGElement | null;
    if (!svg) return { svg: false, width: 0, height: 0, lines: 0, linePoints: [] as number[], dots: 0, areas: 0, rules: 0 };
    const box = svg.getBoundingClientRect();
    const lines = [...svg.querySelectorAll('g[aria-label="line"] path')] as SVGPathElement[];
    return {
      svg: true,
      width: box.width,
      height: box.height,
      lines: lines.length,
      // Vertices per line path (M + L commands) and that each path has a real rendered length.
      linePoints: lines.map((p) => (p.getTotalLength() > 0 ? (p.getAttribute('d') ?? '').split(/[ML]/).length - 1 : 0)),
      dots: svg.querySelectorAll('g[aria-label="dot"] circle').length,
      areas: svg.querySelectorAll('g[aria-label="area"] path').length,
      rules: svg.querySelectorAll('g[aria-label="rule"] line').length,
    };
  }, id);
}

async function tableText(page: Page, id: string): Promise<{ head: string[]; rows: string[][] } | null> {
  return page.evaluate((tid) => {
    const t = document.getElementById(tid);
    if (!t) return null;
    return {
      head: [...t.querySelectorAll('thead th')].map((c) => c.textContent ?? ''),
      rows: [...t.querySelectorAll('tbody tr')].map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent ?? '')),
    };
  }, id);
}

/** Every chart and table of the plan is on the page as planned. */
async function checkPage(page: Page, plan: ReportPlan): Promise<void> {
  const all = planItems(plan);
  assert.ok(all.length > 0);
  for (const it of all) {
    if (it.kind === 'line') {
      const d = await drawn(page, it.id);
      assert.ok(d && d.svg, `${it.id}: no chart SVG`);
      assert.ok(d.width > 200 && d.height > 150, `${it.id}: chart drawn at ${d.width}×${d.height}`);
      assert.equal(d.lines, it.series.length, `${it.id}: line paths`);
      it.series.forEach((s, i) => {
        // Plot draws one path per series here (one mark per series), with one vertex per point.
        assert.equal(d.linePoints[i], s.points.length, `${it.id} / ${s.label}: vertices`);
      });
      const dots = it.series.filter((s) => s.dots).reduce((a, s) => a + s.points.length, 0);
      assert.equal(d.dots, dots, `${it.id}: dots`);
      assert.equal(d.areas, it.series.filter((s) => s.band).length, `${it.id}: bands`);
      assert.equal(d.rules, (it.rules ?? []).length, `${it.id}: reference rules`);
    } else if (it.kind === 'table') {
      const t = await tableText(page, it.id);
      assert.ok(t, `${it.id}: no table`);
      assert.deepEqual(t.head, it.columns, `${it.id}: header`);
      assert.deepEqual(t.rows, it.rows, `${it.id}: rows`);
    } else {
      const n = await page.evaluate((gid) => document.getElementById(gid)?.querySelectorAll('figure.chart').length ?? -1, it.id);
      assert.equal(n, it.figures.length, `${it.id}: panels`);
    }
  }
}

test('the full report (every input kind) renders in Chromium: all charts drawn, all tables right, no errors', async () => {
  const fx = writeAllFixtures(join(root, 'all'));
  const { html, plan } = buildReport(Object.values(fx), { command: 'gue report (fixtures) -o report.html' });
  const file = join(root, 'all.html');
  writeFileSync(file, html);
  const { page, problems } = await open(file);
  try {
    await checkPage(page, plan);
    // The numbers a reader looks for, as the browser shows them (fixture arithmetic, see report-fixtures.ts).
    const t1 = await tableText(page, 'table1-cpu-results');
    assert.deepEqual(t1!.rows[1]!.slice(0, 2), ['gue', '24.15 ± 0.35']);
    const t2 = await tableText(page, 'table2-cpu-pivot');
    assert.deepEqual(t2!.head, ['method', 'small-cnn', 'vgg16', 'resnet18']);
    assert.match(t2!.rows[1]!.join(' | '), /^gue \| 20\.00 \(\d+\.\d\d\) \| 23\.00 \(\d+\.\d\d\) \| 26\.00 \(\d+\.\d\d\)$/);
    const t4 = await tableText(page, 'table4-cpu-pivot-robust');
    assert.deepEqual(t4!.rows[2], ['AT pgd ε_a=4/255', '50.00', '50.00']);
    const ev = await tableText(page, 'evaluate-results');
    assert.deepEqual(ev!.rows.map((r) => r[4]), ['90.20', '21.90']);
    // Fig. 5: the ‖∇θ J_a‖ panel is on a log axis (its tick labels span decades).
    const ticks = await page.evaluate(() => [...document.querySelectorAll('#fig5-cpu-ablation-gradf g[aria-label="y-axis tick label"] text')].map((t) => t.textContent));
    assert.ok(ticks.includes('100') && ticks.includes('2'), `log ticks ${ticks.join(',')}`);
    // Section navigation and the header.
    const nav = await page.evaluate(() => [...document.querySelectorAll('nav a')].map((a) => a.getAttribute('href')));
    assert.deepEqual(nav, plan.sections.map((s) => `#${s.id}`));
    const h1 = await page.textContent('h1');
    assert.equal(h1, plan.title);
    // Tooltips without JavaScript: every dot carries a <title> with its value.
    const title = await page.evaluate(() => document.querySelector('#fig3-cpu-fraction g[aria-label="dot"] circle title')?.textContent ?? null);
    assert.equal(title, 'gue · final\ndata fraction seen by the generator (%) 20: 53.00');
    // The checker itself can fail: a plan that differs from the page (one series more, one row less) is caught.
    const altered = structuredClone(plan);
    const ep = planItems(altered).find((i): i is LineFigure => i.id === 'table1-cpu-epochs')!;
    ep.series.push({ ...ep.series[0]!, label: 'not drawn' });
    await assert.rejects(checkPage(page, altered), /table1-cpu-epochs: line paths/);
    const altered2 = structuredClone(plan);
    (planItems(altered2).find((i) => i.id === 'table3-cpu-pivot') as TableFigure).rows[1]![2] = '99.99 (99.99)';
    await assert.rejects(checkPage(page, altered2), /table3-cpu-pivot: rows/);
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});

test('a single train run: convergence panels with min/max bands and the proxy-victim curve', async () => {
  const fx = writeAllFixtures(join(root, 'one'));
  const { html, plan } = buildReport([fx.train]);
  const file = join(root, 'train.html');
  writeFileSync(file, html);
  const { page, problems } = await open(file);
  try {
    await checkPage(page, plan);
    const ids = planItems(plan).filter((i): i is LineFigure => i.kind === 'line').map((i) => i.id);
    assert.equal(ids.length, 7);
    const f = await drawn(page, ids[0]!);
    assert.equal(f!.areas, 1);
    assert.ok(f!.linePoints[0]! <= 250);
    const runs = planItems(plan).find((i): i is TableFigure => i.kind === 'table')!;
    const t = await tableText(page, runs.id);
    assert.equal(t!.rows[0]![4], '1500 / 1500 (finished)');
    const cmd = await page.textContent('pre.cmd');
    assert.match(cmd ?? '', /^gue train --out \S+ --dataset fashion-mnist/);
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});
