import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../src/run/progress.js';
import { comparisonLines, linePlot, reportHtml, reportMarkdown } from '../src/run/report.js';

function sink(isTTY: boolean): {
  stream: Writable & { isTTY?: boolean; columns?: number };
  text: () => string;
} {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  stream.isTTY = isTTY;
  stream.columns = 200;
  return { stream, text: () => chunks.join('') };
}

const tick = (step: number) => ({
  step,
  maxSteps: 10,
  epoch: step / 5,
  loss: 0.5,
  lr: 1e-3,
  tokensPerSecond: 1234,
  etaSeconds: 65,
});

describe('progress', () => {
  it('redraws one bar in place on a terminal, with step, epoch, loss, tokens/s and ETA', () => {
    const { stream, text } = sink(true);
    const p = createProgress(stream, 5);
    p.tick(tick(1));
    p.tick(tick(2));
    p.line('eval step 2: accuracy 0.5');
    p.done();
    const t = text();
    expect(t).toContain('\r\x1b[2K');
    expect(t).toContain('[##');
    expect(t).toContain('step 2/10  epoch 0.40  loss 0.5000  lr 1.00e-3  1,234 tok/s  ETA 1m05s');
    expect(t).toContain('eval step 2: accuracy 0.5\n');
  });

  it('writes plain lines every N steps when not on a terminal', () => {
    const { stream, text } = sink(false);
    const p = createProgress(stream, 5);
    for (let s = 1; s <= 10; s++) p.tick(tick(s));
    const lines = text().trim().split('\n');
    expect(lines.map((l) => l.split('  ')[0])).toEqual(['step 1/10', 'step 5/10', 'step 10/10']);
    expect(text()).not.toContain('\r');
  });
});

describe('report', () => {
  const history = [
    {
      step: 0,
      epoch: 0,
      split: 'validation',
      metrics: { accuracy: 0.5, eval_loss: 2 },
      seconds: 1,
    },
    {
      step: 10,
      epoch: 2,
      split: 'validation',
      metrics: { accuracy: 0.75, eval_loss: 1 },
      seconds: 1,
    },
  ];
  const data = {
    status: 'completed' as const,
    task: 'sst2',
    evalSplit: 'validation',
    trainExamples: 20,
    evalExamples: 8,
    peftType: 'STATE_OFFSET_TUNING',
    device: 'cpu',
    parameters: { trainable: 256, all: 8832, base: 8576 },
    step: 10,
    maxSteps: 10,
    tokens: 1000,
    trainSeconds: 2,
    evalSeconds: 2,
    losses: Array.from({ length: 10 }, (_, i) => ({ step: i + 1, loss: 2 - i * 0.1, lr: 1e-3 })),
    history,
    best: { step: 10, metric: 'accuracy', value: 0.75 },
    metric: 'accuracy',
    configYaml: 'model: m\n',
  };

  it('compares the first and the last evaluation', () => {
    const lines = comparisonLines(history);
    expect(lines[0]).toMatch(/metric\s+before \(step 0\)\s+after \(step 10\)\s+change/);
    expect(lines[1]).toMatch(/accuracy\s+0\.5000\s+0\.7500\s+\+0\.2500/);
    expect(lines[2]).toMatch(/eval_loss\s+2\.0000\s+1\.0000\s+-1\.0000/);
  });

  it('shows one side when there was no evaluation before training', () => {
    const lines = comparisonLines([history[1]]);
    expect(lines[0]).toMatch(/metric\s+after \(step 10\)$/);
    expect(lines[1]).toMatch(/accuracy\s+0\.7500$/);
    expect(lines[lines.length - 1]).toContain('eval.before_training is false');
  });

  it('draws line plots as inline SVG and writes Markdown and HTML reports', () => {
    const svg = linePlot('t', [
      {
        name: 'a',
        points: [
          [0, 1],
          [1, 2],
        ],
      },
    ]);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toMatch(/<path d="M[\d.]+,[\d.]+ L[\d.]+,[\d.]+"/);
    const html = reportHtml(data);
    expect(html.match(/<svg/g)?.length).toBe(3);
    expect(html).toContain('256 of 8,832');
    const md = reportMarkdown(data);
    expect(md).toContain('| accuracy | 0.5000 | 0.7500 | 0.2500 |');
    expect(md).toContain('step 10: accuracy 0.7500 (best/)');
    expect(md).toContain('```yaml\nmodel: m\n```');
  });
});
