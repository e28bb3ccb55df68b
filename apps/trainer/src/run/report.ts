import { join } from 'node:path';
import { formatCount, formatDuration, formatMetric } from '../util/format.js';
import { writeTextAtomic } from '../util/fs.js';
import type { BestRecord, EvalRecord, LossRecord } from './checkpoint.js';

/** Everything the final report shows. */
export interface ReportData {
  readonly status: 'completed' | 'interrupted' | 'diverged';
  /** One line saying why the run stopped, when it did not complete. */
  readonly statusDetail?: string;
  readonly task: string;
  readonly evalSplit: string;
  readonly trainExamples: number;
  readonly evalExamples: number;
  readonly peftType: string;
  readonly device: string;
  readonly parameters: {
    readonly trainable: number;
    readonly all: number;
    readonly base: number;
  };
  readonly step: number;
  readonly maxSteps: number;
  readonly tokens: number;
  readonly trainSeconds: number;
  readonly evalSeconds: number;
  readonly losses: readonly LossRecord[];
  readonly history: readonly EvalRecord[];
  readonly best: BestRecord | null;
  /** The metric that selects the best checkpoint. */
  readonly metric: string;
  /** The effective config as YAML. */
  readonly configYaml: string;
  readonly samples?: readonly { prompt: string; prediction: string; reference: string }[];
}

/** The rows of the before/after comparison: the first evaluation against the last. */
export function comparison(
  history: readonly EvalRecord[],
): { metric: string; before: number | null; after: number | null }[] {
  if (history.length === 0) return [];
  const first = history[0];
  const last = history[history.length - 1];
  const names = [...new Set([...Object.keys(first.metrics), ...Object.keys(last.metrics)])];
  return names.map((metric) => ({
    metric,
    before: first.step === 0 ? (first.metrics[metric] ?? null) : null,
    after: last.step > 0 ? (last.metrics[metric] ?? null) : null,
  }));
}

/** The before/after comparison as aligned plain-text lines (what `train` prints at the end). */
export function comparisonLines(history: readonly EvalRecord[]): string[] {
  const rows = comparison(history);
  if (rows.length === 0) return ['no evaluation was run'];
  const first = history[0];
  const last = history[history.length - 1];
  const w = Math.max(6, ...rows.map((r) => r.metric.length));
  if (first.step !== 0 || last.step === 0) {
    // Only one side exists: no evaluation before training, or none after it.
    const side = first.step !== 0 ? `after (step ${last.step})` : 'before training';
    const note =
      first.step !== 0
        ? '(no evaluation before training: eval.before_training is false)'
        : '(no evaluation after training)';
    return [
      `${'metric'.padEnd(w)}  ${side.padStart(16)}`,
      ...rows.map(
        (r) =>
          `${r.metric.padEnd(w)}  ${formatMetric(first.step !== 0 ? r.after : r.before).padStart(16)}`,
      ),
      note,
    ];
  }
  const lines = [
    `${'metric'.padEnd(w)}  ${`before (step ${first.step})`.padStart(16)}  ${`after (step ${last.step})`.padStart(16)}  ${'change'.padStart(9)}`,
  ];
  for (const r of rows) {
    const b = r.before as number;
    const a = r.after as number;
    const change = `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(4)}`;
    lines.push(
      `${r.metric.padEnd(w)}  ${formatMetric(b).padStart(16)}  ${formatMetric(a).padStart(16)}  ${change.padStart(9)}`,
    );
  }
  return lines;
}

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A line plot as an inline SVG string (no scripts, no external files). */
export function linePlot(
  title: string,
  series: readonly { name: string; points: readonly [number, number][] }[],
  options: { width?: number; height?: number; xLabel?: string } = {},
): string {
  const width = options.width ?? 640;
  const height = options.height ?? 280;
  const m = { left: 60, right: 130, top: 30, bottom: 40 };
  const all = series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${m.left}" y="18" font-family="sans-serif" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  if (all.length === 0) {
    parts.push(
      `<text x="${width / 2}" y="${height / 2}" text-anchor="middle" font-family="sans-serif" font-size="12">no data</text></svg>`,
    );
    return parts.join('');
  }
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => m.top + (1 - (y - y0) / (y1 - y0)) * ph;
  const axis = 'stroke="#444" stroke-width="1"';
  parts.push(
    `<line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}" ${axis}/>`,
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}" ${axis}/>`,
  );
  const font = 'font-family="sans-serif" font-size="11" fill="#333"';
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    const x = x0 + ((x1 - x0) * i) / 4;
    parts.push(
      `<text x="${m.left - 6}" y="${sy(y) + 4}" text-anchor="end" ${font}>${Number(y.toPrecision(3))}</text>`,
      `<line x1="${m.left}" y1="${sy(y)}" x2="${m.left + pw}" y2="${sy(y)}" stroke="#eee"/>`,
      `<text x="${sx(x)}" y="${m.top + ph + 16}" text-anchor="middle" ${font}>${Math.round(x)}</text>`,
    );
  }
  parts.push(
    `<text x="${m.left + pw / 2}" y="${height - 6}" text-anchor="middle" ${font}>${esc(options.xLabel ?? 'step')}</text>`,
  );
  series.forEach((s, i) => {
    const color = colors[i % colors.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length === 0) return;
    const d = pts
      .map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
      .join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    if (pts.length <= 40) {
      for (const [x, y] of pts) {
        parts.push(
          `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${color}"/>`,
        );
      }
    }
    const ly = m.top + 14 + i * 16;
    parts.push(
      `<line x1="${m.left + pw + 10}" y1="${ly - 4}" x2="${m.left + pw + 28}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${m.left + pw + 32}" y="${ly}" ${font}>${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

function lossPlot(data: ReportData): string {
  return linePlot('Training loss', [
    { name: 'loss', points: data.losses.map((l) => [l.step, l.loss] as [number, number]) },
  ]);
}

function metricPlots(data: ReportData): string[] {
  const names = [...new Set(data.history.flatMap((h) => Object.keys(h.metrics)))];
  const loss = names.filter((n) => n.endsWith('loss'));
  const scores = names.filter((n) => !n.endsWith('loss') && n !== 'out_of_class');
  const series = (ns: string[]) =>
    ns.map((n) => ({
      name: n,
      points: data.history
        .filter((h) => n in h.metrics)
        .map((h) => [h.step, h.metrics[n]] as [number, number]),
    }));
  const out: string[] = [];
  if (scores.length > 0) out.push(linePlot(`${data.evalSplit} metrics`, series(scores)));
  if (loss.length > 0) out.push(linePlot(`${data.evalSplit} loss`, series(loss)));
  return out;
}

function summaryRows(data: ReportData): [string, string][] {
  const total = data.trainSeconds + data.evalSeconds;
  const pct =
    data.parameters.all === 0 ? 0 : (100 * data.parameters.trainable) / data.parameters.all;
  return [
    ['status', data.status + (data.statusDetail ? ` (${data.statusDetail})` : '')],
    [
      'task',
      `${data.task}: ${formatCount(data.trainExamples)} training examples, ${formatCount(data.evalExamples)} ${data.evalSplit} examples`,
    ],
    ['method', data.peftType],
    ['device', data.device],
    [
      'trainable parameters',
      `${formatCount(data.parameters.trainable)} of ${formatCount(data.parameters.all)} (${pct.toFixed(4)}%)`,
    ],
    ['base model parameters', formatCount(data.parameters.base)],
    ['steps', `${data.step} of ${data.maxSteps}`],
    [
      'training time',
      `${formatDuration(data.trainSeconds)} (${formatCount(data.tokens / Math.max(data.trainSeconds, 1e-9))} tokens/s over ${formatCount(data.tokens)} tokens)`,
    ],
    ['evaluation time', formatDuration(data.evalSeconds)],
    ['total time', formatDuration(total)],
    [
      'best checkpoint',
      data.best
        ? `step ${data.best.step}: ${data.best.metric} ${formatMetric(data.best.value)} (best/)`
        : 'none',
    ],
  ];
}

/** The report as Markdown (plots are in report.html). */
export function reportMarkdown(data: ReportData): string {
  const lines = ['# statetune training report', '', '| | |', '|---|---|'];
  for (const [k, v] of summaryRows(data)) lines.push(`| ${k} | ${v.replace(/\|/g, '\\|')} |`);
  lines.push('', '## Before and after training', '');
  const rows = comparison(data.history);
  if (rows.length === 0) lines.push('No evaluation was run.');
  else {
    lines.push('| metric | before | after | change |', '|---|---:|---:|---:|');
    for (const r of rows) {
      const change = r.before !== null && r.after !== null ? (r.after - r.before).toFixed(4) : '';
      lines.push(
        `| ${r.metric} | ${formatMetric(r.before)} | ${formatMetric(r.after)} | ${change} |`,
      );
    }
  }
  lines.push('', '## Evaluations', '');
  if (data.history.length > 0) {
    const names = [...new Set(data.history.flatMap((h) => Object.keys(h.metrics)))];
    lines.push(
      `| step | epoch | ${names.join(' | ')} |`,
      `|---:|---:|${names.map(() => '---:|').join('')}`,
    );
    for (const h of data.history) {
      lines.push(
        `| ${h.step} | ${h.epoch.toFixed(2)} | ${names.map((n) => formatMetric(h.metrics[n])).join(' | ')} |`,
      );
    }
  }
  if (data.samples && data.samples.length > 0) {
    lines.push('', '## Sample predictions (last evaluation)', '');
    for (const s of data.samples) {
      lines.push(
        `- prediction: \`${s.prediction.replace(/`/g, "'")}\``,
        `  reference: \`${s.reference.replace(/`/g, "'")}\``,
      );
    }
  }
  lines.push(
    '',
    'Plots of the loss and the metrics are in report.html.',
    '',
    '## Config',
    '',
    '```yaml',
    data.configYaml.trimEnd(),
    '```',
    '',
  );
  return lines.join('\n');
}

/** The report as a self-contained HTML page with inline SVG plots. */
export function reportHtml(data: ReportData): string {
  const rows = summaryRows(data)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`)
    .join('\n');
  const cmp = comparison(data.history)
    .map(
      (r) =>
        `<tr><td>${esc(r.metric)}</td><td>${formatMetric(r.before)}</td><td>${formatMetric(r.after)}</td><td>${r.before !== null && r.after !== null ? (r.after - r.before).toFixed(4) : ''}</td></tr>`,
    )
    .join('\n');
  const samples = (data.samples ?? [])
    .map(
      (s) =>
        `<li><b>prediction</b> ${esc(s.prediction)}<br><b>reference</b> ${esc(s.reference)}</li>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>statetune report: ${esc(data.task)}</title>
<style>body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}pre{background:#f6f6f6;padding:1em;overflow:auto}</style>
</head><body>
<h1>statetune training report</h1>
<table>${rows}</table>
<h2>Before and after training</h2>
<table><tr><th>metric</th><th>before</th><th>after</th><th>change</th></tr>
${cmp}</table>
<h2>Plots</h2>
${lossPlot(data)}
${metricPlots(data).join('\n')}
${samples ? `<h2>Sample predictions</h2><ul>${samples}</ul>` : ''}
<h2>Config</h2>
<pre>${esc(data.configYaml)}</pre>
</body></html>
`;
}

/** Writes `report.md` and `report.html` into the run folder (each atomically). */
export async function writeReport(outputDir: string, data: ReportData): Promise<void> {
  await writeTextAtomic(join(outputDir, 'report.md'), reportMarkdown(data));
  await writeTextAtomic(join(outputDir, 'report.html'), reportHtml(data));
}
