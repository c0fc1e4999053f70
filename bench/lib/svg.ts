/**
 * The benchmark's chart, drawn by hand as SVG (no dependency): for each cell (K engines per process,
 * P processes) one bar per strategy, in two panels: the share of starts with a collision (with its 95%
 * Wilson interval) and the median wall time as a ratio to the unprotected start (log scale).
 */
import type { CellFigures } from './analyze';
import { STRATEGIES, STRATEGY_LABEL, type Strategy } from './protocol';

const COLOR: Record<Strategy, string> = {
  unprotected: '#d62728',
  sleep: '#ff7f0e',
  filelock: '#8c564b',
  'er-untilHealthy': '#1f77b4',
  'er-leaseOnly': '#2ca02c',
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function chartSvg(figures: readonly CellFigures[], cells: ReadonlyArray<{ K: number; P: number }>, title: string): string {
  const W = 960;
  const left = 70;
  const right = 20;
  const panelH = 230;
  const top1 = 112;
  const top2 = top1 + panelH + 90;
  const H = top2 + panelH + 45;
  const plotW = W - left - right;
  const groupW = plotW / cells.length;
  const barW = Math.min(22, (groupW - 20) / STRATEGIES.length);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  // Legend.
  STRATEGIES.forEach((s, i) => {
    const lx = left + (i % 3) * 290;
    const ly = 38 + Math.floor(i / 3) * 18;
    out.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${COLOR[s]}"/>`);
    out.push(`<text x="${lx + 16}" y="${ly + 10}">${esc(STRATEGY_LABEL[s])}</text>`);
  });
  const fig = (s: Strategy, c: { K: number; P: number }) => figures.find((f) => f.strategy === s && f.K === c.K && f.P === c.P);
  const xOf = (ci: number, si: number) => left + ci * groupW + (groupW - barW * STRATEGIES.length) / 2 + si * barW;
  const groupLabels = (top: number) => {
    cells.forEach((c, ci) => {
      const x = left + ci * groupW + groupW / 2;
      out.push(`<text x="${x}" y="${top + panelH + 18}" text-anchor="middle">K=${c.K}, ${c.P === 1 ? '1 process' : `${c.P} processes`}</text>`);
      const n = Math.max(...STRATEGIES.map((s) => fig(s, c)?.trials ?? 0));
      out.push(`<text x="${x}" y="${top + panelH + 33}" text-anchor="middle" fill="#666" font-size="10">up to ${n} trial${n === 1 ? '' : 's'} per bar</text>`);
    });
  };

  // Panel 1: collision share.
  out.push(`<text x="${left}" y="${top1 - 12}" font-weight="bold">Starts with at least one collision (share, 95% Wilson interval)</text>`);
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    const y = top1 + panelH - v * panelH;
    out.push(`<line x1="${left}" x2="${W - right}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end">${Math.round(v * 100)}%</text>`);
  }
  cells.forEach((c, ci) => {
    STRATEGIES.forEach((s, si) => {
      const f = fig(s, c);
      if (!f || f.trials === 0) return;
      const x = xOf(ci, si);
      const h = f.collisionShare * panelH;
      const y = top1 + panelH - h;
      out.push(`<rect x="${x + 1}" y="${y}" width="${barW - 2}" height="${Math.max(h, 0.5)}" fill="${COLOR[s]}"><title>${esc(`${STRATEGY_LABEL[s]}, K=${c.K}, P=${c.P}: ${f.withCollision}/${f.trials} starts with a collision (95% CI ${(f.collisionCI.low * 100).toFixed(0)}-${(f.collisionCI.high * 100).toFixed(0)}%)`)}</title></rect>`);
      const cx = x + barW / 2;
      out.push(`<text x="${cx}" y="${top1 + panelH - 3 - (f.collisionShare > 0.9 ? h - 12 : h)}" text-anchor="middle" font-size="8" fill="${f.collisionShare > 0.9 ? '#fff' : '#333'}">${f.withCollision}/${f.trials}</text>`);
      const yLo = top1 + panelH - f.collisionCI.low * panelH;
      const yHi = top1 + panelH - f.collisionCI.high * panelH;
      out.push(`<line x1="${cx}" x2="${cx}" y1="${yLo}" y2="${yHi}" stroke="#333"/>`);
      out.push(`<line x1="${cx - 3}" x2="${cx + 3}" y1="${yHi}" y2="${yHi}" stroke="#333"/>`);
      out.push(`<line x1="${cx - 3}" x2="${cx + 3}" y1="${yLo}" y2="${yLo}" stroke="#333"/>`);
    });
  });
  out.push(`<line x1="${left}" x2="${W - right}" y1="${top1 + panelH}" y2="${top1 + panelH}" stroke="#333"/>`);
  groupLabels(top1);

  // Panel 2: wall-time ratio, log scale.
  const ratios = figures.map((f) => f.ratioToUnprotected).filter((r) => Number.isFinite(r) && r > 0);
  const maxR = Math.max(2, ...ratios);
  const minR = Math.min(0.5, ...ratios);
  const lo = Math.log10(minR);
  const hi = Math.log10(maxR * 1.1);
  const yR = (r: number) => top2 + panelH - ((Math.log10(r) - lo) / (hi - lo)) * panelH;
  out.push(`<text x="${left}" y="${top2 - 12}" font-weight="bold">Median wall time until all engines settled, as a ratio to the unprotected start of the same round (log scale; dashed: 1.2x, the leaseOnly target)</text>`);
  for (const v of [0.5, 1, 2, 5, 10, 20, 50, 100, 200]) {
    if (v < minR || v > maxR * 1.1) continue;
    const y = yR(v);
    out.push(`<line x1="${left}" x2="${W - right}" y1="${y}" y2="${y}" stroke="${v === 1 ? '#999' : '#ddd'}"/>`);
    out.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end">${v}x</text>`);
  }
  const y12 = yR(1.2);
  out.push(`<line x1="${left}" x2="${W - right}" y1="${y12}" y2="${y12}" stroke="#2ca02c" stroke-dasharray="4 3"/>`);

  cells.forEach((c, ci) => {
    STRATEGIES.forEach((s, si) => {
      const f = fig(s, c);
      if (!f || !Number.isFinite(f.ratioToUnprotected)) return;
      const x = xOf(ci, si);
      const base = yR(Math.max(minR, Math.min(1, f.ratioToUnprotected)));
      const y = yR(f.ratioToUnprotected);
      const yTop = Math.min(base, y);
      const h = Math.max(Math.abs(base - y), 1);
      out.push(`<rect x="${x + 1}" y="${yTop}" width="${barW - 2}" height="${h}" fill="${COLOR[s]}"><title>${esc(`${STRATEGY_LABEL[s]}, K=${c.K}, P=${c.P}: ${f.ratioToUnprotected.toFixed(2)}x the unprotected wall time (median ${(f.wall.median / 1000).toFixed(2)} s over ${f.wall.n} trials)`)}</title></rect>`);
      out.push(`<text x="${x + barW / 2}" y="${yTop - 3}" text-anchor="middle" font-size="9">${f.ratioToUnprotected >= 10 ? f.ratioToUnprotected.toFixed(0) : f.ratioToUnprotected.toFixed(1)}</text>`);
    });
  });
  out.push(`<line x1="${left}" x2="${W - right}" y1="${top2 + panelH}" y2="${top2 + panelH}" stroke="#333"/>`);
  groupLabels(top2);
  out.push('</svg>');
  return out.join('\n');
}
