/**
 * A small SVG line plot, enough for loss curves: several series over a shared x axis, "nice" tick
 * values (1, 2 or 5 × 10^k), optional log-scale y, a legend. The output is a standalone SVG file
 * that any browser or image viewer shows.
 *
 *   writeFileSync('loss.svg', linePlotSvg({ title: 'loss', xLabel: 'step', series: [{ name: 'L', x, y }] }));
 */

export interface Series {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** CSS colour; default from a colour-blind-safe palette (Okabe–Ito). */
  color?: string;
}

export interface PlotOptions {
  series: Series[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Pixels. Default 720 × 420. */
  width?: number;
  height?: number;
  /** Logarithmic y axis (non-positive values are left out). */
  logY?: boolean;
}

const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];

const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The opening of a W×H chart: the svg element, a white background and the centred title, if any. */
function svgHead(W: number, H: number, title?: string): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  if (title) out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`);
  return out;
}

/** Tick values covering [lo, hi]: about `count` multiples of 1, 2 or 5 × 10^k. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const ticks: number[] = [];
  // integer multiples of the step, rounded so that 3·0.2 prints as 0.6
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++)
    ticks.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  return ticks;
}

/** Ticks of a log axis spanning log10 values [lo, hi], returned as log10 values: 1-2-5 steps, or powers of ten alone on wide ranges. */
export function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  const mantissas = hi - lo > 3 ? [1] : [1, 2, 5];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of mantissas) {
      const v = Math.log10(m) + e;
      if (v >= lo && v <= hi) ticks.push(v);
    }
  }
  return ticks;
}

const fmtTick = (v: number): string => {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
};

/** The plot as an SVG document. */
export function linePlotSvg(opts: PlotOptions): string {
  const W = opts.width ?? 720;
  const H = opts.height ?? 420;
  const m = { left: 64, right: 16, top: opts.title ? 36 : 16, bottom: 48 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const ty = (v: number) => (opts.logY ? Math.log10(v) : v);
  const usable = (v: number) => Number.isFinite(v) && (!opts.logY || v > 0);

  let x0 = Infinity,
    x1 = -Infinity,
    y0 = Infinity,
    y1 = -Infinity;
  for (const s of opts.series) {
    for (let i = 0; i < s.x.length; i++) {
      if (!usable(s.y[i]) || !Number.isFinite(s.x[i])) continue;
      x0 = Math.min(x0, s.x[i]);
      x1 = Math.max(x1, s.x[i]);
      y0 = Math.min(y0, ty(s.y[i]));
      y1 = Math.max(y1, ty(s.y[i]));
    }
  }
  if (!Number.isFinite(x0)) [x0, x1, y0, y1] = [0, 1, 0, 1];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;

  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * pw;
  const py = (y: number) => m.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const out = svgHead(W, H, opts.title);

  // grid and ticks
  const yTicks = opts.logY ? logTicks(y0, y1) : niceTicks(y0, y1);
  for (const v of yTicks) {
    const y = py(v).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(
      `<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmtTick(opts.logY ? 10 ** v : v)}</text>`,
    );
  }
  for (const v of niceTicks(x0, x1, 6)) {
    const x = px(v).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x}" y="${m.top + ph + 16}" text-anchor="middle">${fmtTick(v)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  if (opts.xLabel)
    out.push(`<text x="${m.left + pw / 2}" y="${H - 8}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`);
  if (opts.yLabel)
    out.push(
      `<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel + (opts.logY ? ' (log scale)' : ''))}</text>`,
    );

  // series: a polyline per run of usable points (a gap where a value is missing or not finite)
  const colors = opts.series.map((s, k) => s.color ?? PALETTE[k % PALETTE.length]);
  opts.series.forEach((s, k) => {
    let run: [string, string][] = [];
    const flush = () => {
      if (run.length === 1) out.push(`<circle cx="${run[0][0]}" cy="${run[0][1]}" r="2" fill="${colors[k]}"/>`);
      else if (run.length > 1)
        out.push(
          `<polyline fill="none" stroke="${colors[k]}" stroke-width="1.5" points="${run.map((p) => p.join(',')).join(' ')}"/>`,
        );
      run = [];
    };
    for (let i = 0; i < s.x.length; i++) {
      if (usable(s.y[i]) && Number.isFinite(s.x[i])) run.push([px(s.x[i]).toFixed(1), py(ty(s.y[i])).toFixed(1)]);
      else flush();
    }
    flush();
  });

  // legend, top right, over a translucent box (width estimated at 7 px per character)
  if (opts.series.length) {
    const lw = 40 + 7 * Math.max(...opts.series.map((s) => s.name.length));
    const lx = m.left + pw - lw - 8;
    out.push(
      `<rect x="${lx}" y="${m.top + 6}" width="${lw}" height="${opts.series.length * 16 + 8}" fill="white" fill-opacity="0.8" stroke="#ccc"/>`,
    );
    opts.series.forEach((s, k) => {
      const ly = m.top + 18 + k * 16;
      out.push(`<line x1="${lx + 8}" x2="${lx + 28}" y1="${ly}" y2="${ly}" stroke="${colors[k]}" stroke-width="2"/>`);
      out.push(`<text x="${lx + 34}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
    });
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** SVG documents (as linePlotSvg writes them) one below the other, as one SVG document. */
export function stackSvg(svgs: string[]): string {
  const size = (s: string) => {
    const m = /<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(s);
    if (!m) throw new Error('stackSvg: an input is not an SVG document with width and height');
    return [Number(m[1]), Number(m[2])];
  };
  const sizes = svgs.map(size);
  const W = Math.max(...sizes.map((s) => s[0]));
  const H = sizes.reduce((a, s) => a + s[1], 0);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`];
  let y = 0;
  svgs.forEach((s, i) => {
    out.push(s.trim().replace(/^<svg /, `<svg y="${y}" `));
    y += sizes[i][1];
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export interface Bar {
  label: string;
  value: number;
  /** Half-length of the error bar (e.g. a standard deviation); none if absent or 0. */
  error?: number;
  color?: string;
}

/** A bar chart with error bars, values and labels under the bars (y axis from 0, or from the data's minimum if negative). */
export function barChartSvg(opts: {
  bars: Bar[];
  title?: string;
  yLabel?: string;
  width?: number;
  height?: number;
}): string {
  const W = opts.width ?? Math.max(360, 90 * opts.bars.length + 100);
  const H = opts.height ?? 420;
  const m = { left: 64, right: 16, top: opts.title ? 36 : 16, bottom: 72 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const tops = opts.bars.map((b) => b.value + (b.error ?? 0)).filter(Number.isFinite);
  const lows = opts.bars.map((b) => b.value - (b.error ?? 0)).filter(Number.isFinite);
  const y0 = Math.min(0, ...lows);
  let y1 = Math.max(0, ...tops) * 1.08;
  if (y1 === y0) y1 = y0 + 1;
  const py = (v: number) => m.top + ph - ((v - y0) / (y1 - y0)) * ph;
  const out = svgHead(W, H, opts.title);
  for (const v of niceTicks(y0, y1)) {
    const y = py(v).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmtTick(v)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  if (opts.yLabel)
    out.push(
      `<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`,
    );
  const slot = pw / Math.max(1, opts.bars.length);
  opts.bars.forEach((b, k) => {
    const cx = m.left + slot * (k + 0.5);
    const bw = slot * 0.6;
    const color = b.color ?? PALETTE[k % PALETTE.length];
    if (Number.isFinite(b.value)) {
      const [ya, yb] = [py(Math.max(0, b.value)), py(Math.min(0, b.value))];
      out.push(
        `<rect x="${(cx - bw / 2).toFixed(1)}" y="${ya.toFixed(1)}" width="${bw.toFixed(1)}" height="${(yb - ya).toFixed(1)}" fill="${color}"/>`,
      );
      const e = b.error ?? 0;
      if (e > 0) {
        const [ea, eb] = [py(b.value + e).toFixed(1), py(b.value - e).toFixed(1)];
        out.push(`<line x1="${cx}" x2="${cx}" y1="${ea}" y2="${eb}" stroke="#000" stroke-width="1.5"/>`);
        for (const ey of [ea, eb])
          out.push(`<line x1="${cx - 8}" x2="${cx + 8}" y1="${ey}" y2="${ey}" stroke="#000" stroke-width="1.5"/>`);
      }
      out.push(
        `<text x="${cx}" y="${(py(b.value + e) - 6).toFixed(1)}" text-anchor="middle">${fmtTick(b.value)}</text>`,
      );
    }
    out.push(`<text x="${cx}" y="${m.top + ph + 18}" text-anchor="middle">${escapeXml(b.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
