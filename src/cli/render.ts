// Renders library events: a progress bar on a TTY, plain log lines otherwise, JSON lines with --json.
import type { EventSink, GueEvent } from '../util/events.js';

export interface Renderer {
  sink: EventSink;
  /** Prints the final result: a table/lines for humans, or one JSON object as the last stdout line. */
  result(obj: Record<string, unknown>, human: string): void;
  close(): void;
}

function fmt(m: Record<string, number> | undefined): string {
  if (!m) return '';
  return Object.entries(m)
    .map(([k, v]) => `${k}=${Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(Number.isInteger(v) ? 0 : 1) : v.toFixed(4)}`)
    .join(' ');
}

export function makeRenderer(json: boolean): Renderer {
  const tty = process.stderr.isTTY === true && !json;
  let barActive = false;
  let lastPlain = 0;
  const clearBar = () => {
    if (barActive) {
      process.stderr.write('\r\x1b[2K');
      barActive = false;
    }
  };
  const sink = (e: GueEvent): void => {
    if (json) {
      // Progress is noise for machines except at epoch granularity.
      if (e.type !== 'progress') process.stdout.write(JSON.stringify(e) + '\n');
      return;
    }
    switch (e.type) {
      case 'progress': {
        if (tty) {
          const width = 28;
          const frac = e.total > 0 ? Math.min(1, e.step / e.total) : 0;
          const fill = Math.round(frac * width);
          const bar = '#'.repeat(fill) + '-'.repeat(width - fill);
          process.stderr.write(`\r\x1b[2K${e.task} [${bar}] ${e.step}/${e.total} ${fmt(e.metrics)}`);
          barActive = true;
        } else if (Date.now() - lastPlain > 10000 || e.step === e.total) {
          lastPlain = Date.now();
          process.stderr.write(`${e.task} ${e.step}/${e.total} ${fmt(e.metrics)}\n`);
        }
        break;
      }
      case 'epoch':
        clearBar();
        process.stderr.write(`${e.task} epoch ${e.epoch}/${e.epochs} ${fmt(e.metrics)}\n`);
        break;
      case 'log':
        clearBar();
        process.stderr.write(`${e.level === 'warn' ? 'warning: ' : ''}${e.message}\n`);
        break;
      case 'result':
        break;
    }
  };
  return {
    sink,
    result(obj, human) {
      clearBar();
      if (json) process.stdout.write(JSON.stringify(obj) + '\n');
      else process.stdout.write(human.endsWith('\n') ? human : human + '\n');
    },
    close: clearBar,
  };
}
