// One HTML page per dashboard, drawn from what display.cjs computed with @grafana/data: panels laid
// out on Grafana's 24-column grid (gridPos; 30 px rows), stats and bar gauges with the values,
// texts and threshold colours @grafana/data gave them, tables with their displayed cells, time
// series drawn by uPlot (the library Grafana's time series panel draws with). A reviewer's view of
// what each dashboard shows, not Grafana's own panel components (@grafana/ui needs React and
// Grafana's runtime). Reads {outDir, uplotDir, boards: [{file, title, panels: [{title, type,
// gridPos, display}]}]} on stdin; writes <outDir>/<file>.html.
const fs = require('fs');
const path = require('path');

const ROW = 30;
const GAP = 8;
const WIDTH = 1600;

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
const COLORS = { green: '#73bf69', red: '#f2495c', orange: '#ff9830', yellow: '#fade2a', blue: '#5794f2', purple: '#b877d9' };
const color = (c) => COLORS[c] || c || '#5794f2';
const PALETTE = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff780a', '#f2495c', '#5794f2', '#b877d9', '#705da0', '#37872d', '#fade2a'];

function stat(display) {
  return `<div class="stats">${display.values.map((v) => `
    <div class="stat" style="background:${color(v.color)}">
      <div class="big">${esc(v.text)}</div>${display.values.length > 1 ? `<div class="small">${esc(v.title)}</div>` : ''}
    </div>`).join('')}</div>`;
}

function bars(display) {
  const max = Math.max(1e-9, ...display.values.map((v) => Math.abs(Number(v.numeric) || 0)));
  return `<div class="bars">${display.values.map((v) => `
    <div class="bar"><span class="label">${esc(v.title)}</span>
      <span class="track"><span class="fill" style="width:${(100 * Math.abs(Number(v.numeric) || 0)) / max}%;background:${color(v.color)}"></span></span>
      <span class="val" style="color:${color(v.color)}">${esc(v.text)}</span></div>`).join('')}</div>`;
}

function pie(display) {
  const total = display.values.reduce((a, v) => a + (Number(v.numeric) || 0), 0) || 1;
  let angle = 0;
  const slices = display.values.map((v, i) => {
    const share = (Number(v.numeric) || 0) / total;
    const a0 = angle;
    angle += share * 2 * Math.PI;
    const large = share > 0.5 ? 1 : 0;
    const p = (a) => `${60 + 55 * Math.sin(a)},${60 - 55 * Math.cos(a)}`;
    const d = share >= 0.9999 ? `M60,5 A55,55 0 1,1 59.99,5 Z` : `M60,60 L${p(a0)} A55,55 0 ${large},1 ${p(angle)} Z`;
    return `<path d="${d}" fill="${PALETTE[i % PALETTE.length]}"/>`;
  });
  const legend = display.values.map((v, i) =>
    `<div><span class="swatch" style="background:${PALETTE[i % PALETTE.length]}"></span>${esc(v.title)}: ${esc(v.text)}</div>`);
  return `<div class="pie"><svg viewBox="0 0 120 120" width="140" height="140">${slices.join('')}</svg><div>${legend.join('')}</div></div>`;
}

function table(display) {
  const head = display.columns.map((c) => `<th>${esc(c.name)}<span class="type">${esc(c.type)}</span></th>`).join('');
  const rows = display.rows.slice(0, 30).map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

function body(panel, id) {
  const display = panel.display;
  if (display.noData) return '<div class="nodata">No data</div>';
  switch (panel.type) {
    case 'stat': return stat(display);
    case 'bargauge': return bars(display);
    case 'piechart': return pie(display);
    case 'table': return table(display);
    case 'timeseries': return `<div id="${id}" class="chart"></div>`;
    default: return `<div class="nodata">${esc(panel.type)}</div>`;
  }
}

function chartScript(panel, id, width, height) {
  const times = [...new Set(panel.display.series.flatMap((s) => s.points.map(([t]) => t)))].sort((a, b) => a - b);
  const data = [times.map((t) => t / 1000)];
  const series = [{}];
  panel.display.series.forEach((s, i) => {
    const byTime = new Map(s.points);
    data.push(times.map((t) => (byTime.has(t) ? byTime.get(t) : null)));
    series.push({ label: s.name, stroke: PALETTE[i % PALETTE.length], fill: PALETTE[i % PALETTE.length] + '55',
      width: 2, points: { show: times.length < 40 } });
  });
  return `new uPlot(${JSON.stringify({ width, height, series, scales: { x: { time: true } },
    axes: [{ stroke: '#ccc', grid: { stroke: '#333' } }, { stroke: '#ccc', grid: { stroke: '#333' }, size: 80 }],
    legend: { show: true } })}, ${JSON.stringify(data)}, document.getElementById(${JSON.stringify(id)}));`;
}

function page(board, uplotDir) {
  const height = Math.max(...board.panels.map((p) => (p.gridPos.y + p.gridPos.h) * (ROW + GAP))) + 60;
  const unit = (WIDTH - GAP) / 24;
  const scripts = [];
  const panels = board.panels.map((panel, i) => {
    const { x, y, w, h } = panel.gridPos;
    const id = `chart${i}`;
    const pw = w * unit - GAP;
    const ph = h * (ROW + GAP) - GAP;
    if (panel.type === 'timeseries' && !panel.display.noData) scripts.push(chartScript(panel, id, pw - 16, ph - 90));
    return `<div class="panel" style="left:${x * unit + GAP}px;top:${y * (ROW + GAP) + 50}px;width:${pw}px;height:${ph}px">
      <div class="title">${esc(panel.title)}</div>${body(panel, id)}</div>`;
  });
  const uplot = fs.readFileSync(path.join(uplotDir, 'dist', 'uPlot.iife.min.js'), 'utf8');
  const css = fs.readFileSync(path.join(uplotDir, 'dist', 'uPlot.min.css'), 'utf8');
  return `<!doctype html><html><head><meta charset="utf-8"><style>${css}
    body { margin:0; background:#111217; color:#ccccdc; font:13px "DejaVu Sans", sans-serif; width:${WIDTH}px; height:${height}px; position:relative; }
    h1 { font-size:18px; margin:0; padding:14px ${GAP}px; }
    .panel { position:absolute; background:#181b1f; border:1px solid #2c3235; border-radius:2px; overflow:hidden; box-sizing:border-box; padding:6px 8px; }
    .title { font-weight:600; margin-bottom:6px; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
    .stats { display:flex; gap:4px; height:calc(100% - 24px); }
    .stat { flex:1; display:flex; flex-direction:column; justify-content:center; align-items:center; border-radius:2px; color:#fff; }
    .big { font-size:28px; font-weight:500; } .small { font-size:12px; }
    .bar { display:flex; align-items:center; gap:8px; margin:4px 0; } .label { width:35%; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
    .track { flex:1; background:#22252b; height:18px; } .fill { display:block; height:18px; } .val { width:90px; text-align:right; font-weight:600; }
    table { border-collapse:collapse; width:100%; font-size:12px; } th, td { text-align:left; padding:3px 6px; border-bottom:1px solid #2c3235; white-space:nowrap; max-width:260px; overflow:hidden; text-overflow:ellipsis; }
    .type { color:#777; font-weight:400; margin-left:4px; font-size:10px; }
    .nodata { display:flex; height:calc(100% - 24px); align-items:center; justify-content:center; color:#8e8e8e; font-size:16px; }
    .pie { display:flex; gap:12px; align-items:center; } .swatch { display:inline-block; width:10px; height:10px; margin-right:6px; }
    .u-legend { color:#ccccdc; font-size:11px; }
  </style><script>${uplot}</script></head><body><h1>${esc(board.title)}</h1>${panels.join('')}
  <script>${scripts.join('\n')}</script></body></html>`;
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const out = {};
  for (const board of input.boards) {
    const file = path.join(input.outDir, `${board.file}.html`);
    fs.writeFileSync(file, page(board, input.uplotDir));
    out[board.file] = { html: file, height: Math.max(...board.panels.map((p) => (p.gridPos.y + p.gridPos.h) * (ROW + GAP))) + 60 };
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
