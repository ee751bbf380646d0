// Bar and line charts drawn as plain SVG (no chart library: fewer bytes, and the markup is ours to
// make accessible). Each chart is role="img" with a title and description; the values themselves
// are in an HTML table next to it. Confidential values are labelled gaps, never bars of 0.
import { h, uid } from './dom.mjs';
import { t, formatNumber } from './i18n.mjs';

export function hatchDefs(id) {
  return h('defs', {},
    h('pattern', { id, width: 8, height: 8, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
      h('rect', { width: 8, height: 8, class: 'hatch-bg' }),
      h('line', { x1: 0, y1: 0, x2: 0, y2: 8, class: 'hatch-line' })));
}

// items: [{label, value (number) | null}] -> horizontal bars, one per item with a value.
export function barChart(items, title) {
  const titleId = uid('bar-title');
  const descId = uid('bar-desc');
  const labelWidth = 230;
  const rowHeight = 26;
  const width = 760;
  const plotWidth = width - labelWidth - 90;
  const height = items.length * rowHeight + 24;
  const max = Math.max(1, ...items.filter((i) => i.value !== null).map((i) => Math.abs(i.value)));
  const hatchId = uid('hatch');
  const svg = h('svg', {
    class: 'chart bar-chart', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-labelledby': titleId, 'aria-describedby': descId,
  },
  h('title', { id: titleId }, title),
  h('desc', { id: descId }, t('bar.alt')),
  hatchDefs(hatchId));
  items.forEach((item, i) => {
    const y = i * rowHeight + 4;
    const g = h('g', { class: 'bar-row', 'data-status': item.value === null ? 'confidential' : 'released' });
    g.append(h('text', { x: labelWidth - 8, y: y + rowHeight / 2 + 4, class: 'bar-label', 'text-anchor': 'end' },
      item.label.length > 34 ? `${item.label.slice(0, 33)}…` : item.label));
    if (item.value === null) {
      g.append(h('rect', { x: labelWidth, y: y + 4, width: 36, height: rowHeight - 8, class: 'bar-gap', fill: `url(#${hatchId})` }));
      g.append(h('text', { x: labelWidth + 44, y: y + rowHeight / 2 + 4, class: 'bar-gap-label' }, `. ${t('bar.gap')}`));
    } else {
      const w = Math.max(1, (Math.abs(item.value) / max) * plotWidth);
      g.append(h('rect', { x: labelWidth, y: y + 4, width: w.toFixed(1), height: rowHeight - 8, class: 'bar', 'data-value': item.value },
        h('title', {}, `${item.label}: ${formatNumber(item.value)}`)));
      g.append(h('text', { x: labelWidth + w + 6, y: y + rowHeight / 2 + 4, class: 'bar-value' }, formatNumber(item.value)));
    }
    svg.append(g);
  });
  svg.append(h('line', { x1: labelWidth, y1: 0, x2: labelWidth, y2: height - 16, class: 'axis' }));
  return svg;
}

// points: [{label, value | null}] in order -> a line with gaps where a value is missing.
export function lineChart(points, title) {
  const titleId = uid('line-title');
  const descId = uid('line-desc');
  const width = 760;
  const height = 300;
  const left = 70;
  const right = 20;
  const top = 20;
  const bottom = 60;
  const values = points.filter((p) => p.value !== null).map((p) => p.value);
  const max = values.length ? Math.max(...values) : 1;
  const min = Math.min(0, ...values);
  const span = max - min || 1;
  const x = (i) => left + (points.length === 1 ? 0.5 : i / (points.length - 1)) * (width - left - right);
  const y = (v) => top + (1 - (v - min) / span) * (height - top - bottom);
  const svg = h('svg', {
    class: 'chart line-chart', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-labelledby': titleId, 'aria-describedby': descId,
  }, h('title', { id: titleId }, title), h('desc', { id: descId }, t('line.table')));
  svg.append(h('line', { x1: left, y1: y(min), x2: width - right, y2: y(min), class: 'axis' }));
  svg.append(h('line', { x1: left, y1: top, x2: left, y2: y(min), class: 'axis' }));
  for (const v of [min, min + span / 2, max]) {
    svg.append(h('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, formatNumber(Math.round(v))));
  }
  let segment = [];
  const flush = () => {
    if (segment.length > 1) svg.append(h('polyline', { class: 'series', points: segment.join(' ') }));
    segment = [];
  };
  points.forEach((p, i) => {
    const step = Math.max(1, Math.ceil(points.length / 12));
    if (i % step === 0 || i === points.length - 1) {
      svg.append(h('text', { x: x(i), y: height - bottom + 18, 'text-anchor': 'middle', class: 'tick' }, p.label));
    }
    if (p.value === null) {
      flush();
      svg.append(h('text', { x: x(i), y: y(min) - 8, 'text-anchor': 'middle', class: 'gap-mark' }, '.'));
    } else {
      segment.push(`${x(i).toFixed(1)},${y(p.value).toFixed(1)}`);
    }
  });
  flush();
  points.forEach((p, i) => {
    if (p.value !== null) {
      svg.append(h('circle', { cx: x(i).toFixed(1), cy: y(p.value).toFixed(1), r: 4, class: 'point' },
        h('title', {}, `${p.label}: ${formatNumber(p.value)}`)));
    }
  });
  return svg;
}
