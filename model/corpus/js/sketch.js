// Re-draw outline icons by hand, as a person sketching them would: node sketch.js MODE SEED < icons.json
// MODE rough: rough.js strokes (wobbly, doubled, with hachure fills now and then);
// MODE pen:   perfect-freehand strokes (pressure-varying ink along a jittered path).
// stdin: [{"name", "body", "width", "height"}] (iconify icons); stdout: one {"name", "svg"} per line.
// Ink is `currentColor`, so the caller picks it against the background it chooses.
const fs = require('fs');

const [, , mode, seedArg] = process.argv;
const { parsePath, absolutize, normalize, serialize } = require('path-data-parser');
const SIDE = 240; // rough.js wobble is in absolute units: draw on a 240-unit canvas

let state = Number(seedArg) | 0;
function random() { // mulberry32: the same seed gives the same drawings
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const between = (a, b) => a + (b - a) * random();
const pick = (items) => items[Math.floor(random() * items.length)];

function attributes(text) {
  const found = {};
  for (const m of text.matchAll(/([\w:-]+)="([^"]*)"/g)) found[m[1]] = m[2];
  return found;
}

// Every drawable element as absolute path data on the SIDE canvas (M, L, C, Z only).
function shapes(body, width, height) {
  const k = SIDE / Math.max(width, height);
  const out = [];
  for (const m of body.matchAll(/<(path|circle|ellipse|rect|line|polyline|polygon)\b([^>]*)\/?>/g)) {
    const [, tag, rest] = m;
    const a = attributes(rest);
    const n = (v, d = 0) => (v === undefined ? d : parseFloat(v));
    let d = null;
    if (tag === 'path') d = a.d;
    else if (tag === 'circle' || tag === 'ellipse') {
      const rx = n(a.rx, n(a.r)); const ry = n(a.ry, n(a.r)); const cx = n(a.cx); const cy = n(a.cy);
      d = `M${cx - rx} ${cy}A${rx} ${ry} 0 1 0 ${cx + rx} ${cy}A${rx} ${ry} 0 1 0 ${cx - rx} ${cy}Z`;
    } else if (tag === 'rect') {
      const x = n(a.x); const y = n(a.y); const w = n(a.width); const h = n(a.height);
      const rx = Math.min(n(a.rx, n(a.ry)), w / 2); const ry = Math.min(n(a.ry, n(a.rx)), h / 2);
      d = rx > 0
        ? `M${x + rx} ${y}H${x + w - rx}A${rx} ${ry} 0 0 1 ${x + w} ${y + ry}V${y + h - ry}A${rx} ${ry} 0 0 1 ${x + w - rx} ${y + h}H${x + rx}A${rx} ${ry} 0 0 1 ${x} ${y + h - ry}V${y + ry}A${rx} ${ry} 0 0 1 ${x + rx} ${y}Z`
        : `M${x} ${y}H${x + w}V${y + h}H${x}Z`;
    } else if (tag === 'line') d = `M${n(a.x1)} ${n(a.y1)}L${n(a.x2)} ${n(a.y2)}`;
    else {
      const v = (a.points || '').trim().split(/[\s,]+/).map(Number);
      const pts = [];
      for (let i = 0; i + 1 < v.length; i += 2) pts.push(`${v[i]} ${v[i + 1]}`);
      if (pts.length > 1) d = `M${pts.join('L')}${tag === 'polygon' ? 'Z' : ''}`;
    }
    if (!d) continue;
    try {
      const segments = normalize(absolutize(parsePath(d))).map((s) => ({ key: s.key, data: s.data.map((x) => x * k) }));
      out.push(segments);
    } catch (e) { /* an element rough.js cannot parse is left out of the sketch */ }
  }
  return out;
}

function roughIcon(parts) {
  const rough = require('roughjs');
  const generator = rough.generator();
  const fillColour = pick(['#f4a261', '#e76f51', '#2a9d8f', '#e9c46a', '#8ecae6', '#ffafcc', '#90be6d', '#cdb4db']);
  const filled = random() < 0.4;
  const base = { roughness: between(0.8, 2.6), bowing: between(0.5, 2.5), strokeWidth: between(2, 6.5),
    stroke: 'currentColor', disableMultiStroke: random() < 0.3 };
  const fill = { fill: fillColour, fillStyle: pick(['hachure', 'zigzag', 'cross-hatch']),
    fillWeight: base.strokeWidth * 0.6, hachureGap: between(5, 11), hachureAngle: between(-70, -20) };
  const paths = [];
  for (const segments of parts) {
    const closed = segments.length > 0 && segments[segments.length - 1].key === 'Z';
    const options = { ...base, seed: Math.floor(random() * 2 ** 31) + 1, ...(filled && closed && random() < 0.6 ? fill : {}) };
    for (const p of generator.toPaths(generator.path(serialize(segments), options))) {
      paths.push(`<path d="${p.d}" stroke="${p.stroke}" stroke-width="${p.strokeWidth}" fill="${p.fill || 'none'}" stroke-linecap="round" stroke-linejoin="round"/>`);
    }
  }
  return paths;
}

function flatten(segments, jitter) { // points along M/L/C/Z path data, each subpath a list
  const lines = [];
  let current = [];
  let start = [0, 0];
  let at = [0, 0];
  const wobble = ([x, y]) => [x + between(-jitter, jitter), y + between(-jitter, jitter)];
  for (const { key, data } of segments) {
    if (key === 'M') { if (current.length > 1) lines.push(current); at = [data[0], data[1]]; start = at; current = [wobble(at)]; }
    else if (key === 'L') { at = [data[0], data[1]]; current.push(wobble(at)); }
    else if (key === 'C') {
      const [x1, y1, x2, y2, x, y] = data;
      for (let t = 0.125; t <= 1.0001; t += 0.125) {
        const u = 1 - t;
        current.push(wobble([u * u * u * at[0] + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t * t * t * x,
          u * u * u * at[1] + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t * t * t * y]));
      }
      at = [x, y];
    } else if (key === 'Z') { current.push(wobble(start)); at = start; }
  }
  if (current.length > 1) lines.push(current);
  return lines;
}

function penIcon(parts) {
  const { getStroke } = require('perfect-freehand');
  const size = between(5, 14);
  const options = { size, thinning: between(0.3, 0.75), smoothing: between(0.3, 0.7), streamline: between(0.2, 0.6),
    simulatePressure: true, start: { taper: between(0, size * 3) }, end: { taper: between(0, size * 3) } };
  const jitter = between(0.5, 3);
  const paths = [];
  for (const segments of parts) {
    for (const line of flatten(segments, jitter)) {
      const outline = getStroke(line, options);
      if (outline.length < 3) continue;
      const d = outline.map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)} ${y.toFixed(1)}`).join('') + 'Z';
      paths.push(`<path d="${d}" fill="currentColor"/>`);
    }
  }
  return paths;
}

const icons = JSON.parse(fs.readFileSync(0, 'utf8'));
for (const icon of icons) {
  const parts = shapes(icon.body, icon.width, icon.height);
  const paths = mode === 'pen' ? penIcon(parts) : roughIcon(parts);
  if (!paths.length) continue;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="-12 -12 ${SIDE + 24} ${SIDE + 24}" width="${SIDE + 24}" height="${SIDE + 24}">${paths.join('')}</svg>`;
  process.stdout.write(JSON.stringify({ name: icon.name, svg }) + '\n');
}
