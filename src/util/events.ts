// The library never prints: long-running functions report through typed events, and the CLI
// renders them (progress bars on a TTY, plain logs otherwise, JSON lines with --json).
export type GueEvent =
  | { type: 'progress'; task: string; step: number; total: number; metrics?: Record<string, number> }
  | { type: 'epoch'; task: string; epoch: number; epochs: number; metrics: Record<string, number> }
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  | { type: 'result'; task: string; metrics: Record<string, number | string> };

export type EventSink = (e: GueEvent) => void;

export const silent: EventSink = () => {};
