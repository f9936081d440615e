// Draws a report plan (plan.ts) as one static, self-contained HTML page.
//
// Library choice: Observable Plot (@observablehq/plot, ISC) renders every chart on the server into static SVG,
// with linkedom (ISC) as the DOM it draws into; the page itself is built in the same DOM (no string-assembled
// markup, so all text is escaped by the serializer). Why server-side SVG rather than a browser charting
// library inlined with its data:
//   - the page has no script at all: readable without JavaScript, in any browser, printable, and nothing can
//     fail at view time;
//   - charts are plain SVG elements with ARIA labels per mark (line, dot, area, rule), so a test can count
//     what was drawn and a reader can select the numbers (every dot has a <title> with its value);
//   - the output is a deterministic function of the inputs (no ids from counters, no clock; coordinates are
//     rounded to 0.1 px), so a committed report diffs cleanly;
//   - size: a chart is a few KB (long per-step series are bucketed to ≤ 250 points in plan.ts), versus ~50 KB
//     for an inlined library plus its data.
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import type { GridFigure, LineFigure, ReportPlan, Section, Series, TableFigure } from './plan.js';

/** Observable's 10-colour categorical scheme, fixed here so colours are the same in every panel. */
const PALETTE = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951', '#ff8ab7', '#a463f2', '#97bbf5', '#9c6b4e', '#9498a0'];

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1e23; margin: 0 auto; max-width: 1120px; padding: 24px; }
h1 { font-size: 1.6em; margin: 0 0 .4em; } h2 { font-size: 1.3em; margin: 2em 0 .5em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
h3 { font-size: 1.05em; margin: 1.4em 0 .3em; } h4 { font-size: .95em; margin: .2em 0; font-weight: 600; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; margin: .5em 0; }
dl.meta dt { color: #5a6270; } dl.meta dd { margin: 0; word-break: break-word; }
pre.cmd { background: #f4f5f7; padding: .5em .8em; border-radius: 4px; white-space: pre-wrap; word-break: break-all; font-size: 12.5px; margin: .3em 0; }
table { border-collapse: collapse; margin: .4em 0 1em; font-size: 13px; }
th, td { border-bottom: 1px solid #e3e5e8; padding: .25em .7em; text-align: left; vertical-align: top; }
th { border-bottom: 2px solid #c9cdd3; font-weight: 600; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: .5em 0 1.2em; } figcaption, p.caption { color: #5a6270; font-size: 12.5px; max-width: 60em; margin: .2em 0 .6em; }
.grid { display: flex; flex-wrap: wrap; gap: 12px 24px; } .grid > figure { margin: 0; }
p.note { background: #fff6e0; border-left: 3px solid #efb118; padding: .3em .7em; }
nav ul { margin: .3em 0; padding-left: 1.2em; }
`;

type Doc = Document;

interface Ctx {
  doc: Doc;
}

function el(ctx: Ctx, tag: string, attrs: Record<string, string> = {}, ...children: (Node | string | null)[]): HTMLElement {
  const e = ctx.doc.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) {
    if (c === null) continue;
    e.appendChild(typeof c === 'string' ? ctx.doc.createTextNode(c) : c);
  }
  return e;
}

// ---------------------------------------------------------------- charts

const ROUNDED = ['d', 'transform', 'x', 'y', 'x1', 'x2', 'y1', 'y2', 'cx', 'cy', 'r', 'width', 'height', 'points'];

/** Rounds the coordinates Plot wrote (0.1 px for paths, 0.01 px otherwise): smaller files, same picture, stable diffs. */
function roundCoordinates(root: Element): void {
  const all = [root, ...Array.from(root.querySelectorAll('*'))];
  for (const e of all) {
    for (const a of ROUNDED) {
      const v = e.getAttribute(a);
      if (v === null || !/\d\.\d{3}|e-\d/.test(v)) continue;
      // Path and polyline coordinates to 0.1 px (there are many), the rest to 0.01 px.
      const k = a === 'd' || a === 'points' ? 10 : 100;
      e.setAttribute(a, v.replace(/-?\d*\.?\d+(?:e[-+]?\d+)?/gi, (m) => {
        const n = Math.round(Number(m) * k) / k;
        return Object.is(n, -0) ? '0' : String(n);
      }));
    }
  }
}

function colorScale(labels: string[]): { domain: string[]; range: string[] } {
  return { domain: labels, range: labels.map((_, i) => PALETTE[i % PALETTE.length]!) };
}

function fmtY(v: number): string {
  return Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.01) ? v.toExponential(3) : v.toFixed(Math.abs(v) >= 10 ? 2 : 4);
}

function marksOf(fig: LineFigure): Plot.Markish[] {
  const marks: Plot.Markish[] = [];
  for (const sr of fig.series) {
    const label = sr.label;
    const key = sr.key ?? sr.label;
    const color = () => key;
    if (sr.band && sr.band.length > 0) {
      marks.push(Plot.areaY(sr.band, { x: 'x', y1: 'lo', y2: 'hi', fill: color, fillOpacity: 0.18, curve: 'linear' }));
    }
    marks.push(Plot.lineY(sr.points, {
      x: 'x', y: 'y', stroke: color, strokeWidth: 1.7, ...(sr.dashed ? { strokeDasharray: '5,3' } : {}), title: () => label,
    }));
    if (sr.dots) {
      marks.push(Plot.dot(sr.points, {
        x: 'x', y: 'y', fill: color, r: 2.6,
        title: (d: { x: number; y: number }) => `${label}\n${fig.xLabel} ${+d.x.toFixed(3)}: ${fmtY(d.y)}`,
      }));
    }
  }
  for (const r of fig.rules ?? []) {
    marks.push(Plot.ruleY([r.y], { stroke: '#8a9099', strokeDasharray: '3,3' }));
    marks.push(Plot.text([r], { y: 'y', text: 'label', frameAnchor: 'right', textAnchor: 'end', dy: -6, fill: '#5a6270' }));
  }
  return marks;
}

function integerTicks(fig: LineFigure): number[] | undefined {
  const xs = fig.series.flatMap((s: Series) => s.points.map((p) => p.x));
  if (xs.length === 0 || !xs.every((x) => Number.isInteger(x))) return undefined;
  const lo = Math.min(...xs), hi = Math.max(...xs);
  if (hi - lo > 24) return undefined;
  const step = hi - lo > 12 ? 2 : 1;
  const out: number[] = [];
  for (let x = lo; x <= hi; x += step) out.push(x);
  return out;
}

function chart(ctx: Ctx, fig: LineFigure, size: { width: number; height: number }, labels: string[], legend: boolean): Element {
  const ticks = integerTicks(fig);
  const node = Plot.plot({
    document: ctx.doc,
    width: size.width,
    height: size.height,
    marginRight: 20,
    style: { fontSize: '11px', overflow: 'visible' },
    x: { label: fig.xLabel, labelAnchor: 'center', labelArrow: 'none', ...(ticks ? { ticks, tickFormat: 'd' } : {}) },
    y: {
      label: fig.yLabel, grid: true, labelArrow: 'none',
      ...(fig.yLog ? { type: 'log' as const } : {}),
      ...(fig.yDomain ? { domain: fig.yDomain } : {}),
    },
    color: { ...colorScale(labels), legend },
    marks: marksOf(fig),
  }) as unknown as Element;
  roundCoordinates(node);
  return node;
}

function seriesLabels(figs: LineFigure[]): string[] {
  const out: string[] = [];
  for (const f of figs) for (const s of f.series) if (!out.includes(s.key ?? s.label)) out.push(s.key ?? s.label);
  return out;
}

function lineFigure(ctx: Ctx, fig: LineFigure, small = false): HTMLElement {
  const labels = seriesLabels([fig]);
  const f = el(ctx, 'figure', { id: fig.id, class: 'chart', 'data-kind': 'line', 'data-series': String(fig.series.length) });
  f.appendChild(el(ctx, small ? 'h4' : 'h3', {}, fig.title));
  f.appendChild(chart(ctx, fig, small ? { width: 340, height: 230 } : { width: 720, height: 320 }, labels, !small && labels.length > 1));
  if (fig.caption) f.appendChild(el(ctx, 'figcaption', {}, fig.caption));
  return f;
}

function gridFigure(ctx: Ctx, grid: GridFigure): HTMLElement {
  const labels = seriesLabels(grid.figures);
  const wrap = el(ctx, 'section', { id: grid.id, class: 'figure-grid', 'data-kind': 'grid', 'data-panels': String(grid.figures.length) });
  wrap.appendChild(el(ctx, 'h3', {}, grid.title));
  if (labels.length > 1) {
    // `document` is honoured by Plot.legend (createContext) though its typings omit it.
    const opts = { document: ctx.doc, color: { type: 'categorical', ...colorScale(labels) }, style: { fontSize: '12px' } };
    const legend = Plot.legend(opts as unknown as Plot.LegendScales) as unknown as Element | undefined;
    if (legend) wrap.appendChild(legend);
  }
  const g = el(ctx, 'div', { class: 'grid' });
  for (const fig of grid.figures) {
    const f = el(ctx, 'figure', { id: fig.id, class: 'chart', 'data-kind': 'line', 'data-series': String(fig.series.length) });
    f.appendChild(el(ctx, 'h4', {}, fig.title));
    f.appendChild(chart(ctx, fig, { width: 340, height: 230 }, labels, false));
    if (fig.caption) f.appendChild(el(ctx, 'figcaption', {}, fig.caption));
    g.appendChild(f);
  }
  wrap.appendChild(g);
  if (grid.caption) wrap.appendChild(el(ctx, 'p', { class: 'caption' }, grid.caption));
  return wrap;
}

// ---------------------------------------------------------------- tables and text

function table(ctx: Ctx, t: TableFigure): HTMLElement {
  const wrap = el(ctx, 'figure', { id: t.id, class: 'table', 'data-kind': 'table', 'data-rows': String(t.rows.length) });
  wrap.appendChild(el(ctx, 'h3', {}, t.title));
  const tbl = el(ctx, 'table');
  const head = el(ctx, 'tr');
  t.columns.forEach((c, i) => head.appendChild(el(ctx, 'th', t.numeric[i] ? { class: 'num', scope: 'col' } : { scope: 'col' }, c)));
  tbl.appendChild(el(ctx, 'thead', {}, head));
  const body = el(ctx, 'tbody');
  for (const row of t.rows) {
    const tr = el(ctx, 'tr');
    row.forEach((c, i) => tr.appendChild(el(ctx, 'td', t.numeric[i] ? { class: 'num' } : {}, c)));
    body.appendChild(tr);
  }
  tbl.appendChild(body);
  wrap.appendChild(tbl);
  if (t.caption) wrap.appendChild(el(ctx, 'figcaption', {}, t.caption));
  return wrap;
}

function metaList(ctx: Ctx, pairs: [string, string][]): HTMLElement {
  const dl = el(ctx, 'dl', { class: 'meta' });
  for (const [k, v] of pairs) {
    dl.appendChild(el(ctx, 'dt', {}, k));
    dl.appendChild(el(ctx, 'dd', {}, v));
  }
  return dl;
}

function section(ctx: Ctx, s: Section): HTMLElement {
  const sec = el(ctx, 'section', { id: s.id, class: `report-section ${s.kind}`, 'data-kind': s.kind });
  sec.appendChild(el(ctx, 'h2', {}, s.title));
  const meta: [string, string][] = [[s.sources.length > 1 ? 'inputs' : 'input', s.sources.join(', ')], ...s.meta];
  sec.appendChild(metaList(ctx, meta));
  if (s.commands.length > 0) {
    sec.appendChild(el(ctx, 'h4', {}, s.commands.length > 1 ? 'Commands' : 'Command'));
    for (const c of s.commands) sec.appendChild(el(ctx, 'pre', { class: 'cmd' }, c));
  }
  for (const n of s.notes) sec.appendChild(el(ctx, 'p', { class: 'note' }, n));
  for (const it of s.items) {
    if (it.kind === 'table') sec.appendChild(table(ctx, it));
    else if (it.kind === 'grid') sec.appendChild(gridFigure(ctx, it));
    else sec.appendChild(lineFigure(ctx, it));
  }
  return sec;
}

/** The HTML page for a plan. Same plan → same bytes. */
export function renderReport(plan: ReportPlan): string {
  const { document } = parseHTML('<!DOCTYPE html><html lang="en"><head></head><body></body></html>');
  const doc = document as unknown as Doc;
  const ctx: Ctx = { doc };
  const head = doc.head;
  head.appendChild(el(ctx, 'meta', { charset: 'utf-8' }));
  head.appendChild(el(ctx, 'meta', { name: 'viewport', content: 'width=device-width, initial-scale=1' }));
  head.appendChild(el(ctx, 'meta', { name: 'generator', content: 'gue report' }));
  head.appendChild(el(ctx, 'title', {}, plan.title));
  head.appendChild(el(ctx, 'style', {}, CSS.trim()));

  const body = doc.body;
  const header = el(ctx, 'header');
  header.appendChild(el(ctx, 'h1', {}, plan.title));
  const meta: [string, string][] = [];
  if (plan.datasets.length > 0) meta.push([plan.datasets.length > 1 ? 'datasets' : 'dataset', plan.datasets.join(', ')]);
  meta.push(['inputs', plan.inputs.map((i) => `${i.path} (${i.kind})`).join(', ')]);
  for (const v of plan.versions) {
    const text = Object.keys(v.versions).sort().map((k) => `${k} ${String(v.versions[k])}`).join(' · ');
    meta.push([plan.versions.length > 1 ? `versions (${v.sources.join(', ')})` : 'versions', text]);
  }
  header.appendChild(metaList(ctx, meta));
  if (plan.command) {
    header.appendChild(el(ctx, 'h4', {}, 'This page'));
    header.appendChild(el(ctx, 'pre', { class: 'cmd' }, plan.command));
  }
  body.appendChild(header);
  if (plan.sections.length > 1) {
    const ul = el(ctx, 'ul');
    for (const s of plan.sections) ul.appendChild(el(ctx, 'li', {}, el(ctx, 'a', { href: `#${s.id}` }, s.title)));
    body.appendChild(el(ctx, 'nav', {}, ul));
  }
  for (const s of plan.sections) body.appendChild(section(ctx, s));
  return document.toString() + '\n';
}
