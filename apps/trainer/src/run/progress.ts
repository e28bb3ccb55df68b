import { formatCount, formatDuration } from '../util/format.js';

/** What the progress display shows after a step. */
export interface ProgressTick {
  readonly step: number;
  readonly maxSteps: number;
  readonly epoch: number;
  readonly loss: number;
  readonly lr: number;
  readonly tokensPerSecond: number;
  /** Seconds left at the current speed. */
  readonly etaSeconds: number;
}

/** Where progress goes: a redrawn bar on a terminal, or plain lines every few steps. */
export interface Progress {
  tick(t: ProgressTick): void;
  /** Prints a line above the bar (a message, an evaluation result). */
  line(text: string): void;
  /** Removes the bar. */
  done(): void;
}

function describe(t: ProgressTick): string {
  return `step ${t.step}/${t.maxSteps}  epoch ${t.epoch.toFixed(2)}  loss ${t.loss.toFixed(4)}  lr ${t.lr.toExponential(2)}  ${formatCount(t.tokensPerSecond)} tok/s  ETA ${formatDuration(t.etaSeconds)}`;
}

/**
 * A progress display for `stream`: on a TTY, one bar redrawn in place; otherwise a plain line
 * every `every` steps (and at the last step), so logs stay readable in files and CI.
 */
export function createProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
  every: number,
  mode: 'auto' | 'tty' | 'plain' | 'none' = 'auto',
): Progress {
  const tty = mode === 'tty' || (mode === 'auto' && stream.isTTY === true);
  if (mode === 'none') return { tick() {}, line() {}, done() {} };
  if (!tty) {
    return {
      tick(t) {
        if (t.step % every === 0 || t.step === t.maxSteps || t.step === 1) {
          stream.write(`${describe(t)}\n`);
        }
      },
      line(text) {
        stream.write(`${text}\n`);
      },
      done() {},
    };
  }
  let shown = false;
  const clear = () => {
    if (shown) stream.write('\r\x1b[2K');
    shown = false;
  };
  return {
    tick(t) {
      const width = 24;
      const filled = Math.round((width * t.step) / Math.max(1, t.maxSteps));
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
      let text = `${bar} ${describe(t)}`;
      const cols = stream.columns ?? 120;
      if (text.length > cols - 1) text = text.slice(0, cols - 1);
      clear();
      stream.write(text);
      shown = true;
    },
    line(text) {
      clear();
      stream.write(`${text}\n`);
    },
    done() {
      clear();
    },
  };
}
