import cliProgress from 'cli-progress';

/** Progress of a long run: a bar on a terminal, plain lines otherwise (logs, CI). */
export interface ProgressReporter {
  start(label: string, total: number, unit: string): void;
  update(done: number, detail?: string): void;
  stop(): void;
  /** A step without a measurable amount of work (for example a set-based SQL statement). */
  step(message: string): void;
}

export function createProgressReporter(stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  return stream.isTTY ? new BarProgress(stream) : new LineProgress(stream);
}

/** Reports nothing: for tests and library use. */
export const silentProgress: ProgressReporter = {
  start: () => undefined,
  update: () => undefined,
  stop: () => undefined,
  step: () => undefined,
};

class BarProgress implements ProgressReporter {
  private bar: cliProgress.SingleBar | undefined;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  start(label: string, total: number, unit: string): void {
    this.bar = new cliProgress.SingleBar(
      {
        stream: this.stream,
        format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {detail} | ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { detail: '' });
  }

  update(done: number, detail = ''): void {
    this.bar?.update(done, { detail });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }

  step(message: string): void {
    this.stream.write(`${message}\n`);
  }
}

class LineProgress implements ProgressReporter {
  private label = '';
  private total = 0;
  private unit = '';
  private lastPrinted = 0;
  private lastPercent = -1;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  start(label: string, total: number, unit: string): void {
    Object.assign(this, { label, total, unit, lastPrinted: 0, lastPercent: -1 });
  }

  update(done: number, detail = ''): void {
    const percent = this.total > 0 ? Math.floor((done / this.total) * 100) : 0;
    const now = Date.now();
    // One line per 10% or every 5 seconds, whichever comes first.
    if (Math.floor(percent / 10) > Math.floor(this.lastPercent / 10) || now - this.lastPrinted > 5_000) {
      this.stream.write(
        `${this.label}: ${percent}% (${done}/${this.total} ${this.unit})${detail ? `, ${detail}` : ''}\n`,
      );
      this.lastPercent = percent;
      this.lastPrinted = now;
    }
  }

  stop(): void {
    if (this.lastPercent < 100 && this.total > 0) this.stream.write(`${this.label}: done\n`);
  }

  step(message: string): void {
    this.stream.write(`${message}\n`);
  }
}
