// A small bar chart drawn as SVG: one bar per window, a y axis with round ticks, a few time labels.
// Every bar carries its window's start and value (data-start, data-value) and a tooltip.

const svgNs = 'http://www.w3.org/2000/svg';

function element(name, attributes = {}, text) {
  const node = document.createElementNS(svgNs, name);
  for (const [key, value] of Object.entries(attributes)) {
    node.setAttribute(key, value);
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** Round tick step for a maximum, so the axis reads 0, 5, 10 or 0, 200, 400. */
function tickStep(max, ticks) {
  const raw = Math.max(1, max) / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map(m => m * power).find(s => s >= raw);
  return Math.max(1, step);
}

/**
 * Draws bars into container. points: [{start, value, label, tip}]; labelEvery: show every n-th label.
 * description: the accessible summary of the chart.
 */
export function drawBars(container, points, { labelEvery = 1, description = '' } = {}) {
  const width = 1100;
  const height = 240;
  const left = 48;
  const right = 12;
  const top = 12;
  const bottom = 28;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const max = Math.max(0, ...points.map(p => p.value));
  const step = tickStep(max, 4);
  const ceiling = Math.max(step, Math.ceil(max / step) * step);

  const svg = element('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': description });
  const axis = element('g', { class: 'axis' });
  for (let tick = 0; tick <= ceiling; tick += step) {
    const y = top + plotHeight - (tick / ceiling) * plotHeight;
    svg.append(element('line', { class: tick === 0 ? 'baseline' : 'grid-line', x1: left, x2: width - right, y1: y, y2: y }));
    axis.append(element('text', { x: left - 8, y: y + 4, 'text-anchor': 'end' }, tick.toLocaleString('en-US')));
  }

  const slot = points.length ? plotWidth / points.length : plotWidth;
  const barWidth = Math.max(1, Math.min(48, slot * 0.72));
  const bars = element('g');
  points.forEach((point, index) => {
    const x = left + index * slot + (slot - barWidth) / 2;
    const barHeight = ceiling ? (point.value / ceiling) * plotHeight : 0;
    const bar = element('rect', {
      class: 'bar', x, y: top + plotHeight - barHeight, width: barWidth, height: Math.max(0, barHeight), rx: Math.min(3, barWidth / 3),
      'data-start': point.start, 'data-value': point.value,
    });
    bar.append(element('title', {}, point.tip));
    bars.append(bar);
    if (index % labelEvery === 0 && point.label) {
      axis.append(element('text', { x: left + index * slot + slot / 2, y: height - 8, 'text-anchor': 'middle' }, point.label));
    }
  });
  svg.append(bars, axis);
  container.replaceChildren(svg);
}
