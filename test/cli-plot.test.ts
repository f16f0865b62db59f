import { describe, expect, it } from 'vitest';
import { linePlotSvg, logTicks, niceTicks } from '../src/plot';

describe('plot ticks', () => {
  it('linear ticks are 1-2-5 multiples inside the range', () => {
    expect(niceTicks(0, 100, 5)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0.13, 0.92, 4)).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(3, 3)).toEqual([3]);
  });

  it('log ticks: 1-2-5 per decade on narrow ranges, powers of ten on wide ones', () => {
    const values = (lo: number, hi: number) =>
      logTicks(Math.log10(lo), Math.log10(hi)).map((v) => Number((10 ** v).toPrecision(3)));
    expect(values(0.3, 6)).toEqual([0.5, 1, 2, 5]);
    expect(values(1e-3, 1e3)).toEqual([0.001, 0.01, 0.1, 1, 10, 100, 1000]);
  });
});

describe('linePlotSvg', () => {
  const x = [0, 1, 2, 3, 4];
  it('draws one polyline per series, a legend, and escapes text', () => {
    const svg = linePlotSvg({
      title: 'a < b',
      xLabel: 'step',
      series: [
        { name: 'L', x, y: [5, 4, 3, 2, 1] },
        { name: 'L_pred & co', x, y: [2, 2, 2, 2, 2] },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('a &lt; b');
    expect(svg).toContain('L_pred &amp; co');
  });

  it('breaks a line at non-finite values instead of drawing them', () => {
    const svg = linePlotSvg({ series: [{ name: 'L', x, y: [1, 2, NaN, 3, 4] }] });
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).not.toMatch(/NaN/);
  });

  it('keeps the points inside the plot area', () => {
    const svg = linePlotSvg({ width: 400, height: 300, series: [{ name: 'L', x: [10, 20], y: [-1e6, 1e6] }] });
    const pts = svg
      .match(/points="([^"]+)"/)![1]
      .split(' ')
      .map((p) => p.split(',').map(Number));
    for (const [px, py] of pts) {
      expect(px).toBeGreaterThanOrEqual(0);
      expect(px).toBeLessThanOrEqual(400);
      expect(py).toBeGreaterThanOrEqual(0);
      expect(py).toBeLessThanOrEqual(300);
    }
  });
});
