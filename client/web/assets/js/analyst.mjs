// The tables view (analysts and researchers): templates by theme, a form generated from the
// template's typed parameters, the released table with its legend and notes, the bar chart, the
// series over years or reference dates, the map, and the downloads.
import { api, ApiError } from './api.mjs';
import { h, clear } from './dom.mjs';
import { t, pick, formatNumber, formatMicro, lang } from './i18n.mjs';
import { rows, rowLabel, toCsv, displayValue } from './result.mjs';
import { barChart, lineChart } from './charts.mjs';
import { tileMap } from './map.mjs';
import { errorBox } from './errors.mjs';

const state = {
  templates: null,
  loadError: null,
  details: new Map(),
  selected: null,
  values: {},
  result: null,
  runError: null,
  busy: false,
  statistic: null,
  series: null, // {param, rowKey, points: [{code,label,value}], progress, done}
  charges: [], // [{template, charged_micro, repeat}] of this page session (researcher view)
};

let root = null;
let onCharge = () => {};

export function chargesOfSession() {
  return state.charges;
}

export async function mountAnalyst(element, chargeListener) {
  root = element;
  onCharge = chargeListener || (() => {});
  render();
  try {
    const list = await api.templates();
    state.templates = list.templates || [];
  } catch (e) {
    state.loadError = e;
  }
  render();
}

export function render() {
  if (!root) return;
  // Re-rendering replaces the elements: keep the keyboard focus on the control that had it.
  const focused = document.activeElement && root.contains(document.activeElement) ? document.activeElement.id : '';
  clear(root);
  root.append(h('h2', { id: 'tables-heading' }, t('nav.tables')));
  const layout = h('div', { class: 'layout' });
  layout.append(templateList(), h('div', { class: 'work' }, formSection(), resultSection()));
  root.append(layout);
  if (focused) {
    const again = document.getElementById(focused);
    if (again) again.focus();
  }
}

function templateList() {
  const nav = h('nav', { class: 'templates', 'aria-labelledby': 'templates-heading' },
    h('h3', { id: 'templates-heading' }, t('templates.heading')));
  if (state.loadError) {
    nav.append(errorBox(state.loadError));
    return nav;
  }
  if (!state.templates) {
    nav.append(h('p', { role: 'status' }, t('loading')));
    return nav;
  }
  if (state.templates.length === 0) {
    nav.append(h('p', {}, t('templates.none')));
    return nav;
  }
  const themes = [...new Set(state.templates.map((tp) => tp.theme))];
  for (const theme of themes) {
    const themeLabel = t(`theme.${theme}`) === `theme.${theme}` ? theme : t(`theme.${theme}`);
    const list = h('ul', { class: 'template-list' });
    for (const tp of state.templates.filter((x) => x.theme === theme)) {
      const current = state.selected === tp.id;
      list.append(h('li', {}, h('button', {
        type: 'button', class: current ? 'template-button current' : 'template-button', id: `template-${tp.id}`,
        'aria-pressed': current ? 'true' : 'false', 'data-template': tp.id,
        onclick: () => selectTemplate(tp.id),
      }, pick(tp.title) || tp.id)));
    }
    nav.append(h('h4', {}, `${t('templates.theme')}: ${themeLabel}`), list);
  }
  return nav;
}

async function selectTemplate(id) {
  state.selected = id;
  state.result = null;
  state.runError = null;
  state.series = null;
  if (!state.details.has(id)) {
    render();
    try {
      state.details.set(id, await api.template(id));
    } catch (e) {
      state.details.set(id, { error: e });
    }
  }
  const detail = state.details.get(id);
  state.values = {};
  for (const p of (detail && detail.parameters) || []) state.values[p.name] = p.default || '';
  render();
  const first = root.querySelector('#parameter-form input, #parameter-form select');
  if (first) first.focus();
}

// Exposed for the tests and for suggestion buttons: the form of a template as generated.
export async function formFor(id) {
  await selectTemplate(id);
  return root.querySelector('#parameter-form');
}

function formSection() {
  const section = h('section', { class: 'form-section', 'aria-labelledby': 'form-heading' });
  section.append(h('h3', { id: 'form-heading' }, t('form.heading')));
  if (!state.selected) {
    section.append(h('p', {}, t('form.choose')));
    return section;
  }
  const detail = state.details.get(state.selected);
  if (!detail) {
    section.append(h('p', { role: 'status' }, t('loading')));
    return section;
  }
  if (detail.error) {
    section.append(errorBox(detail.error));
    return section;
  }
  section.append(h('p', { class: 'template-title' },
    h('strong', {}, pick(detail.title) || detail.id), ` (${detail.id}, ${t('form.version')} ${detail.version})`));
  if (pick(detail.description)) section.append(h('p', { class: 'template-description' }, pick(detail.description)));
  const facts = h('ul', { class: 'template-facts' });
  if (detail.unit) {
    // The wire's unit word in the page's language; a word the page does not know is shown as sent.
    const key = `unit.${detail.unit}`;
    const unit = t(key) === key ? detail.unit : t(key);
    facts.append(h('li', {}, `${t('form.unit')}: ${unit}`));
  }
  if (detail.dp) {
    facts.append(h('li', {}, t('form.dp', {
      eps: formatMicro(detail.dp.charge_micro || 0),
      ledgers: (detail.dp.ledgers || []).join(', '),
    })));
  } else {
    if (detail.min_units) facts.append(h('li', {}, t('form.min_units', { n: formatNumber(detail.min_units) })));
    if (detail.rule_set) facts.append(h('li', {}, `${t('form.rule_set')}: ${detail.rule_set}`));
  }
  section.append(facts);

  const form = h('form', { id: 'parameter-form', 'data-template': detail.id, novalidate: false,
    onsubmit: (e) => { e.preventDefault(); run(); } });
  for (const p of detail.parameters || []) form.append(parameterField(p));
  form.append(h('button', { type: 'submit', class: 'utrecht-button utrecht-button--primary-action', id: 'run-button',
    disabled: state.busy ? true : null }, t('form.run')));
  section.append(form);
  return section;
}

function parameterField(p) {
  const id = `param-${p.name}`;
  const helpId = `${id}-help`;
  const help = [];
  if (pick(p.description)) help.push(pick(p.description));
  if (p.type === 'integer' && p.min !== undefined && p.max !== undefined) {
    help.push(t('form.range', { min: p.min, max: p.max }));
  }
  help.push(p.default ? `${t('form.default')}: ${p.default}` : t('form.required'));
  const field = h('div', { class: 'field', 'data-param': p.name, 'data-type': p.type });
  field.append(h('label', { for: id, class: 'utrecht-form-label' }, p.name));
  let control;
  if (Array.isArray(p.allowed_values) && p.allowed_values.length > 0) {
    control = h('select', { id, name: p.name, class: 'utrecht-select utrecht-select--html-select', 'aria-describedby': helpId,
      required: p.default ? null : true,
      onchange: (e) => { state.values[p.name] = e.target.value; } });
    if (!p.default) control.append(h('option', { value: '' }, '—'));
    for (const v of p.allowed_values) {
      const label = pick(v.label);
      control.append(h('option', { value: v.code }, label && label !== v.code ? `${label} (${v.code})` : v.code));
    }
    control.value = state.values[p.name] || '';
  } else {
    control = h('input', { id, name: p.name, type: p.type === 'integer' ? 'number' : 'text', class: 'utrecht-textbox utrecht-textbox--html-input',
      min: p.type === 'integer' ? p.min : null, max: p.type === 'integer' ? p.max : null, step: p.type === 'integer' ? 1 : null,
      required: p.default ? null : true, 'aria-describedby': helpId, inputmode: p.type === 'integer' ? 'numeric' : null,
      oninput: (e) => { state.values[p.name] = e.target.value; } });
    control.value = state.values[p.name] || '';
  }
  field.append(control, h('p', { id: helpId, class: 'help' }, help.join(' · ')));
  return field;
}

async function run() {
  const detail = state.details.get(state.selected);
  if (!detail || state.busy) return;
  state.busy = true;
  state.runError = null;
  state.result = null;
  state.series = null;
  render();
  try {
    const parameters = {};
    for (const p of detail.parameters || []) parameters[p.name] = String(state.values[p.name] ?? '');
    const result = await api.run(detail.id, parameters);
    state.result = result;
    const stats = result.statistics || [];
    if (!stats.some((s) => s.name === state.statistic)) state.statistic = stats.length ? stats[0].name : null;
    if (result.budget_charge) {
      state.charges.push({ template: detail.id, request_id: result.metadata && result.metadata.request_id,
        charged_micro: result.budget_charge.charged_micro, repeat: result.budget_charge.repeat });
      onCharge(result.budget_charge);
    }
  } catch (e) {
    state.runError = e;
  } finally {
    state.busy = false;
  }
  render();
  const target = root.querySelector('#result-heading');
  if (target) target.focus();
}

// A suggestion's changes applied to the form, then run again.
function applySuggestion(suggestion) {
  for (const change of suggestion.changes || []) state.values[change.name] = change.value;
  run();
}

function suggestionButtons(suggestions) {
  const list = h('ul', { class: 'suggestions' });
  for (const s of suggestions) {
    const changes = (s.changes || []).map((c) => `${c.name}=${c.value}`).join(', ');
    const reason = t(`suggest.${s.kind}`) === `suggest.${s.kind}` ? t('suggest.other') : t(`suggest.${s.kind}`);
    list.append(h('li', {}, h('button', { type: 'button', class: 'utrecht-button utrecht-button--secondary-action suggestion',
      'data-changes': changes, onclick: () => applySuggestion(s) }, t('suggest.apply', { changes })), ` (${reason})`));
  }
  return list;
}

function resultSection() {
  const section = h('section', { class: 'result-section', 'aria-labelledby': 'result-heading', 'aria-busy': state.busy ? 'true' : 'false' });
  section.append(h('h3', { id: 'result-heading', tabindex: '-1' }, t('result.heading')));
  const live = h('div', { role: 'status', class: 'live' });
  section.append(live);
  if (state.busy) live.append(t('run.busy'));
  if (state.runError) {
    section.append(errorBox(state.runError, (s) => suggestionButtons(s)));
  }
  const result = state.result;
  if (!result) return section;
  const detail = state.details.get(state.selected) || {};
  const allRows = rows(result);
  const stats = result.statistics || [];
  const paramText = ((result.metadata && result.metadata.parameters) || []).map((p) => `${p.name}=${p.value}`).join(', ');

  // The table.
  const table = h('table', { class: 'utrecht-table release-table', id: 'release-table' },
    h('caption', { class: 'utrecht-table__caption', id: 'release-caption' }, t('result.caption', { title: pick(detail.title) || result.metadata.template_id, params: paramText })));
  const headRow = h('tr', { class: 'utrecht-table__row' });
  for (const d of result.dimensions || []) headRow.append(h('th', { scope: 'col', class: 'utrecht-table__header-cell' }, pick(d.label) || d.name));
  for (const s of stats) headRow.append(h('th', { scope: 'col', class: 'utrecht-table__header-cell numeric' }, pick(s.label) || s.name));
  table.append(h('thead', { class: 'utrecht-table__header' }, headRow));
  const body = h('tbody', { class: 'utrecht-table__body' });
  for (const row of allRows) {
    const tr = h('tr', { class: row.isInner ? 'utrecht-table__row' : 'utrecht-table__row total-row' });
    row.codes.forEach((c, i) => {
      const cellTag = i === 0 ? 'th' : 'td';
      tr.append(h(cellTag, { scope: i === 0 ? 'row' : null, class: i === 0 ? 'utrecht-table__header-cell' : 'utrecht-table__cell' },
        pick(c.label) || c.code));
    });
    row.values.forEach((v) => {
      tr.append(v === null
        ? h('td', { class: 'utrecht-table__cell numeric confidential', 'data-status': 'confidential' },
          h('abbr', { title: t('bar.gap') }, '.'))
        : h('td', { class: 'utrecht-table__cell numeric', 'data-status': 'released' }, displayValue(v)));
    });
    body.append(tr);
  }
  table.append(body);
  section.append(h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-labelledby': 'release-caption' }, table));
  section.append(h('p', { class: 'legend', id: 'legend' }, t('result.legend')));

  // Notes: the enclave's (totals from microdata, rounding, DP, ...) plus rounding of statistics.
  const notes = h('ul', { class: 'notes' });
  for (const note of (result.metadata && result.metadata.notes) || []) {
    const text = pick(note);
    if (text.startsWith("'.' = ")) continue;
    notes.append(h('li', {}, text));
  }
  for (const s of stats) {
    if (s.precision > 1) notes.append(h('li', {}, t('result.rounded', { stat: pick(s.label) || s.name, p: formatNumber(s.precision) })));
    if (s.kind === 'share' && s.per > 100) notes.append(h('li', { class: 'per' }, t('result.per', { stat: pick(s.label) || s.name, per: formatNumber(s.per) })));
  }
  if (result.budget_charge) {
    notes.append(h('li', { class: 'charge' }, result.budget_charge.repeat ? t('result.charge.repeat')
      : t('result.charge', { eps: formatMicro(result.budget_charge.charged_micro) })));
  }
  if (result.metadata) {
    notes.append(h('li', { class: 'meta' }, t('result.meta', { data: result.metadata.data_version, rules: result.metadata.rule_set, id: result.metadata.request_id })));
  }
  section.append(h('h4', {}, t('result.notes')), notes);
  if (Array.isArray(result.suggestions) && result.suggestions.length) {
    section.append(h('div', { class: 'utrecht-alert utrecht-alert--warning' }, h('p', {}, t('result.allconf')), suggestionButtons(result.suggestions)));
  }

  // Downloads (built here, nothing from the server).
  section.append(downloads(result));

  // The statistic for chart and map.
  if (stats.length) {
    const id = 'statistic-select';
    const select = h('select', { id, class: 'utrecht-select utrecht-select--html-select', onchange: (e) => { state.statistic = e.target.value; render(); } },
      stats.map((s) => h('option', { value: s.name }, pick(s.label) || s.name)));
    select.value = state.statistic;
    section.append(h('div', { class: 'field statistic-choice' }, h('label', { for: id, class: 'utrecht-form-label' }, t('result.statistic')), select));
    const statIndex = Math.max(0, stats.findIndex((s) => s.name === state.statistic));
    const stat = stats[statIndex];
    section.append(barSection(allRows, stat, statIndex));
    section.append(mapSection(result, allRows, stat, statIndex));
    section.append(seriesSection(detail, allRows, stat, statIndex));
  }
  return section;
}

function downloads(result) {
  const id = (result.metadata && result.metadata.template_id) || 'table';
  const stem = `${id}-${((result.metadata && result.metadata.parameters) || []).map((p) => p.value).join('-')}`.replace(/[^A-Za-z0-9._-]/g, '_');
  const save = (text, type, name) => {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = h('a', { href: url, download: name, class: 'hidden-link' });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return h('section', { class: 'downloads', 'aria-labelledby': 'downloads-heading' },
    h('h4', { id: 'downloads-heading' }, t('download.heading')),
    h('div', { class: 'button-row' },
      h('button', { type: 'button', class: 'utrecht-button utrecht-button--secondary-action', id: 'download-excel',
        onclick: () => save(toCsv(result, 'excel-nl'), 'text/csv;charset=utf-8', `${stem}-excel-nl.csv`) }, t('download.excel')),
      h('button', { type: 'button', class: 'utrecht-button utrecht-button--secondary-action', id: 'download-csv',
        onclick: () => save(toCsv(result, 'plain'), 'text/csv;charset=utf-8', `${stem}.csv`) }, t('download.csv')),
      h('button', { type: 'button', class: 'utrecht-button utrecht-button--secondary-action', id: 'download-json',
        onclick: () => save(`${JSON.stringify(result, null, 2)}\n`, 'application/json', `${stem}.json`) }, t('download.json'))),
    h('p', { class: 'help' }, t('download.note')));
}

function barSection(allRows, stat, statIndex) {
  const inner = allRows.filter((r) => r.isInner);
  const section = h('section', { class: 'bar-section', 'aria-labelledby': 'bar-heading' }, h('h4', { id: 'bar-heading' }, t('bar.heading')));
  if (!inner.length) {
    section.append(h('p', {}, t('bar.none')));
    return section;
  }
  const title = t('bar.caption', { stat: pick(stat.label) || stat.name });
  section.append(h('figure', {}, barChart(inner.map((r) => ({ label: rowLabel(r), value: r.values[statIndex] })), title),
    h('figcaption', {}, title)));
  return section;
}

function mapSection(result, allRows, stat, statIndex) {
  const section = h('section', { class: 'map-section', 'aria-labelledby': 'map-heading' }, h('h4', { id: 'map-heading' }, t('map.heading')));
  const dims = result.dimensions || [];
  const geoIndex = dims.findIndex((d) => d.name === 'wijk' || d.name === 'wijkcluster');
  if (geoIndex < 0) {
    section.append(h('p', {}, t('map.none')));
    return section;
  }
  // The other dimensions at their total (or first code when they have no total).
  const fixed = dims.map((d, i) => (i === geoIndex ? -1 : Math.max(0, d.codes.findIndex((c) => c.is_total))));
  const values = new Map();
  for (const row of allRows) {
    if (!row.combination.every((c, i) => i === geoIndex || c === fixed[i])) continue;
    const code = row.codes[geoIndex];
    if (code.is_total) continue;
    values.set(code.code, { label: pick(code.label) || code.code, value: row.values[statIndex] });
  }
  const level = dims[geoIndex].name;
  const title = t('map.caption', { stat: pick(stat.label) || stat.name, level: t(`map.level.${level}`) });
  const fixedText = dims.map((d, i) => (i === geoIndex ? null : `${pick(d.label) || d.name}: ${pick(d.codes[fixed[i]].label) || d.codes[fixed[i]].code}`))
    .filter(Boolean).join(', ');
  section.append(h('figure', {}, tileMap(level, values, title),
    h('figcaption', {}, title, fixedText ? ` — ${t('map.fixed', { fixed: fixedText })}` : '', h('br'), t('map.schematic'))));
  return section;
}

// A parameter a series can run over: an integer year, or a code whose allowed values are all
// years, quarters or dates (YYYY, YYYYQn, YYYYMMDD).
function seriesParameters(detail) {
  const out = [];
  for (const p of detail.parameters || []) {
    if (p.type === 'integer' && (p.name === 'year' || p.name === 'jaar' || (p.min >= 1900 && p.max <= 2100)) && p.max - p.min < 60) {
      const codes = [];
      for (let y = p.min; y <= p.max; y += 1) codes.push({ code: String(y), label: String(y) });
      out.push({ param: p, codes });
    } else if (p.type === 'code' && Array.isArray(p.allowed_values) && p.allowed_values.length > 1
      && p.allowed_values.every((v) => /^\d{4}(Q[1-4]|\d{4})?$/.test(v.code))) {
      out.push({ param: p, codes: p.allowed_values.map((v) => ({ code: v.code, label: pick(v.label) || v.code })) });
    }
  }
  return out;
}

function shapeOf(code) {
  return code.replace(/\d/g, '9');
}

function seriesSection(detail, allRows, stat, statIndex) {
  const section = h('section', { class: 'series-section', 'aria-labelledby': 'series-heading' }, h('h4', { id: 'series-heading' }, t('line.heading')));
  const candidates = seriesParameters(detail);
  if (!candidates.length) {
    section.append(h('p', {}, t('line.none')));
    return section;
  }
  if (!state.series || !candidates.some((c) => c.param.name === state.series.param)) {
    const totalRow = allRows.find((r) => r.codes.every((c) => c.is_total)) || allRows[0];
    state.series = { param: candidates[0].param.name, rowKey: totalRow ? totalRow.combination.join(',') : '', points: null, progress: null };
  }
  const series = state.series;
  const paramId = 'series-param';
  const rowId = 'series-row';
  const paramSelect = h('select', { id: paramId, class: 'utrecht-select utrecht-select--html-select', onchange: (e) => { series.param = e.target.value; series.points = null; render(); } },
    candidates.map((c) => h('option', { value: c.param.name }, c.param.name)));
  paramSelect.value = series.param;
  const rowSelect = h('select', { id: rowId, class: 'utrecht-select utrecht-select--html-select', onchange: (e) => { series.rowKey = e.target.value; render(); } },
    allRows.map((r) => h('option', { value: r.combination.join(',') }, rowLabel(r) || t('result.total'))));
  rowSelect.value = series.rowKey;
  section.append(h('div', { class: 'series-controls' },
    h('div', { class: 'field' }, h('label', { for: paramId, class: 'utrecht-form-label' }, t('line.param')), paramSelect),
    h('div', { class: 'field' }, h('label', { for: rowId, class: 'utrecht-form-label' }, t('line.row')), rowSelect),
    h('button', { type: 'button', id: 'series-run', class: 'utrecht-button utrecht-button--secondary-action', disabled: series.running ? true : null,
      onclick: () => runSeries(detail, candidates.find((c) => c.param.name === series.param)) }, t('line.run'))));
  section.append(h('p', { role: 'status', class: 'live', id: 'series-progress' }, series.progress ? t(series.progress.key, series.progress.vars) : ''));
  if (series.points && !series.running) {
    const points = series.points.map((p) => {
      const cell = p.result ? rows(p.result).find((r) => r.combination.join(',') === series.rowKey) : null;
      const sIndex = p.result ? (p.result.statistics || []).findIndex((s) => s.name === stat.name) : -1;
      return { label: p.label, code: p.code, value: cell && sIndex >= 0 ? cell.values[sIndex] : null, refused: !p.result };
    });
    const row = allRows.find((r) => r.combination.join(',') === series.rowKey);
    const title = t('line.caption', { stat: pick(stat.label) || stat.name, row: row ? rowLabel(row) || t('result.total') : '', param: series.param });
    section.append(h('figure', {}, lineChart(points.map((p) => ({ label: p.code, value: p.value })), title), h('figcaption', {}, title)));
    const table = h('table', { class: 'utrecht-table series-table' }, h('caption', {}, t('line.table')),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, series.param), h('th', { scope: 'col', class: 'numeric' }, pick(stat.label) || stat.name))));
    const body = h('tbody');
    for (const p of points) {
      body.append(h('tr', {}, h('th', { scope: 'row' }, p.label),
        h('td', { class: 'numeric' }, p.refused ? `${t('line.refused')}` : displayValue(p.value))));
    }
    table.append(body);
    section.append(table);
  }
  void statIndex;
  return section;
}

// The series' queries, one by one, with progress. A refused point is a gap, not a stop.
async function runSeries(detail, candidate) {
  const series = state.series;
  if (!candidate || series.running) return;
  const current = String(state.values[candidate.param.name] ?? '');
  const codes = candidate.param.type === 'code' && current
    ? candidate.codes.filter((c) => shapeOf(c.code) === shapeOf(current)) : candidate.codes;
  series.running = true;
  series.points = [];
  for (let i = 0; i < codes.length; i += 1) {
    series.progress = { key: 'line.progress', vars: { i: i + 1, n: codes.length } };
    render();
    const parameters = {};
    for (const p of detail.parameters || []) parameters[p.name] = String(state.values[p.name] ?? '');
    parameters[candidate.param.name] = codes[i].code;
    try {
      const result = await api.run(detail.id, parameters);
      if (result.budget_charge) {
        state.charges.push({ template: detail.id, request_id: result.metadata && result.metadata.request_id,
          charged_micro: result.budget_charge.charged_micro, repeat: result.budget_charge.repeat });
        onCharge(result.budget_charge);
      }
      series.points.push({ ...codes[i], result });
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 0)) {
        series.running = false;
        state.runError = e;
        render();
        return;
      }
      series.points.push({ ...codes[i], result: null });
    }
  }
  series.running = false;
  series.progress = { key: 'line.done', vars: { n: codes.length } };
  render();
  void lang;
}
