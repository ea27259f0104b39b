// A progress line for long work: a bar on a terminal, a plain line every few seconds otherwise.
export interface ProgressState {
  label: string;
  done: number;
  total: number;
  failed?: number;
  extra?: string;
  /** What the rate counts (default: the same units as done). */
  rate?: { count: number; unit: string };
}

export class ProgressLine {
  private readonly started = Date.now();
  private lastPlain = 0;
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  update(p: ProgressState): void {
    const elapsed = (Date.now() - this.started) / 1000;
    const rate = elapsed > 0 ? p.done / elapsed : 0;
    const eta = rate > 0 && p.total > p.done ? `${Math.round((p.total - p.done) / rate)}s` : '-';
    const shownRate = p.rate ? `${(elapsed > 0 ? p.rate.count / elapsed : 0).toFixed(1)} ${p.rate.unit}/s` : `${rate.toFixed(1)}/s`;
    const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
    const width = 24;
    const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
    const text = `${p.label} ${bar} ${p.done}/${p.total}${p.failed ? ` (${p.failed} failed)` : ''} ${shownRate} ETA ${eta}${p.extra ? ` ${p.extra}` : ''}`;
    if (this.stream.isTTY) this.stream.write(`\r${text.slice(0, (this.stream.columns ?? 120) - 1).padEnd(Math.min(this.stream.columns ?? 120, 120) - 1)}`);
    else if (Date.now() - this.lastPlain > 5000 || p.done === p.total) {
      this.lastPlain = Date.now();
      this.stream.write(`${text}\n`);
    }
  }

  finish(): void {
    if (this.stream.isTTY) this.stream.write('\n');
  }
}
