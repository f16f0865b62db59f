/** Small canvas line charts for the live views (no dependencies): series share an x axis (the step). */

export interface Series {
  name: string;
  color: string;
  ys: number[];
}

const fmt = (v: number) =>
  Math.abs(v) >= 1000 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : Number(v.toPrecision(3)).toString();

/** Draw `series` over `xs` into `canvas` (device-pixel sharp), with a title, axis ticks and a legend. */
export function drawChart(canvas: HTMLCanvasElement, title: string, xs: number[], series: Series[]): void {
  const dpr = globalThis.devicePixelRatio || 1;
  const w = canvas.clientWidth || 360;
  const h = canvas.clientHeight || 180;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext('2d');
  if (!g) return;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#222';
  g.fillText(title, 6, 13);
  const left = 46;
  const right = w - 8;
  const top = 22;
  const bottom = h - 20;
  const finite = series.flatMap((s) => s.ys.filter(Number.isFinite));
  if (!xs.length || !finite.length) {
    g.fillStyle = '#888';
    g.fillText('no data yet', left, (top + bottom) / 2);
    return;
  }
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (hi - lo < 1e-12) {
    lo -= 0.5 * (Math.abs(lo) || 1);
    hi += 0.5 * (Math.abs(hi) || 1);
  }
  const x0 = xs[0];
  const x1 = Math.max(xs[xs.length - 1], x0 + 1);
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (right - left);
  const py = (y: number) => bottom - ((y - lo) / (hi - lo)) * (bottom - top);
  g.strokeStyle = '#ccc';
  g.lineWidth = 1;
  g.beginPath();
  g.moveTo(left, top);
  g.lineTo(left, bottom);
  g.lineTo(right, bottom);
  g.stroke();
  g.fillStyle = '#555';
  for (const v of [lo, (lo + hi) / 2, hi]) g.fillText(fmt(v), 2, py(v) + 4);
  g.fillText(String(x0), left, h - 6);
  g.fillText(String(xs[xs.length - 1]), right - 24, h - 6);
  series.forEach((s, k) => {
    g.strokeStyle = s.color;
    g.lineWidth = 1.5;
    g.beginPath();
    let started = false;
    s.ys.forEach((y, i) => {
      if (!Number.isFinite(y)) return;
      if (started) g.lineTo(px(xs[i]), py(y));
      else g.moveTo(px(xs[i]), py(y));
      started = true;
    });
    g.stroke();
    g.fillStyle = s.color;
    g.fillText(s.name, right - 70 * (series.length - k), 13);
  });
}
