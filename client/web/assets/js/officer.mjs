// The privacy officer's view: the query log with filters, each entry's parameters and decoded
// cell rules, the verification status of what is shown, and the export bundle.
import { api } from './api.mjs';
import { h, clear } from './dom.mjs';
import { t, pick, formatNumber } from './i18n.mjs';
import { errorBox } from './errors.mjs';

const FILTERS = [
  { name: 'caller', key: 'log.caller', type: 'text' },
  { name: 'project', key: 'log.project', type: 'text' },
  { name: 'template', key: 'log.template', type: 'text' },
  { name: 'param', key: 'log.param', type: 'text' },
  { name: 'from', key: 'log.from', type: 'date' },
  { name: 'to', key: 'log.to', type: 'date' },
];
// "allowed", or the refusal's status code name (enclave/audit/leaf.h).
const DECISIONS = ['', 'allowed', 'INVALID_ARGUMENT', 'PERMISSION_DENIED', 'FAILED_PRECONDITION', 'RESOURCE_EXHAUSTED', 'NOT_FOUND', 'UNAUTHENTICATED'];

const state = { filters: {}, response: null, error: null, busy: false, paramError: false, open: new Set() };
let root = null;

export function mountOfficer(element) {
  root = element;
  render();
  search();
}

export function render() {
  if (!root) return;
  const focused = document.activeElement && root.contains(document.activeElement) ? document.activeElement.id : '';
  clear(root);
  root.append(h('h2', { id: 'log-heading' }, t('log.heading')));
  root.append(filterForm());
  root.append(h('p', { class: 'button-row' }, h('a', { href: '/api/audit/export', class: 'utrecht-button utrecht-button--secondary-action export-link', id: 'audit-export', download: '' }, t('log.export'))));
  const live = h('div', { role: 'status', class: 'live' }, state.busy ? t('loading') : '');
  root.append(live);
  if (state.error) root.append(errorBox(state.error));
  if (state.response) root.append(results(state.response));
  if (focused) {
    const again = document.getElementById(focused);
    if (again) again.focus();
  }
}

function filterForm() {
  const form = h('form', { id: 'log-filters', class: 'filters', onsubmit: (e) => { e.preventDefault(); search(); } },
    h('h3', {}, t('log.filters')));
  const grid = h('div', { class: 'filter-grid' });
  for (const f of FILTERS) {
    const id = `filter-${f.name}`;
    const input = h('input', { id, name: f.name, type: f.type, class: 'utrecht-textbox utrecht-textbox--html-input',
      'aria-invalid': f.name === 'param' && state.paramError ? 'true' : null,
      'aria-describedby': f.name === 'param' && state.paramError ? 'filter-param-error' : null,
      oninput: (e) => { state.filters[f.name] = e.target.value; } });
    input.value = state.filters[f.name] || '';
    const field = h('div', { class: 'field' }, h('label', { for: id, class: 'utrecht-form-label' }, t(f.key)), input);
    if (f.name === 'param' && state.paramError) field.append(h('p', { id: 'filter-param-error', class: 'field-error' }, t('log.param.invalid')));
    grid.append(field);
  }
  const decision = h('select', { id: 'filter-decision', name: 'decision', class: 'utrecht-select utrecht-select--html-select',
    onchange: (e) => { state.filters.decision = e.target.value; } },
  DECISIONS.map((d) => h('option', { value: d }, d || t('log.decision.any'))));
  decision.value = state.filters.decision || '';
  grid.append(h('div', { class: 'field' }, h('label', { for: 'filter-decision', class: 'utrecht-form-label' }, t('log.decision')), decision));
  form.append(grid, h('button', { type: 'submit', id: 'log-search', class: 'utrecht-button utrecht-button--primary-action' }, t('log.search')));
  return form;
}

function queryString() {
  const q = new URLSearchParams();
  for (const name of ['caller', 'project', 'template', 'decision', 'from', 'to']) {
    const v = (state.filters[name] || '').trim();
    if (v) q.append(name, v);
  }
  // Several parameter filters may be separated by spaces or commas: geo=wijk, wijk=WK191604.
  for (const part of (state.filters.param || '').split(/[\s,]+/).filter(Boolean)) q.append('param', part);
  q.append('limit', '200');
  return q.toString();
}

export async function search() {
  const params = (state.filters.param || '').split(/[\s,]+/).filter(Boolean);
  state.paramError = params.some((p) => !/^[^=]+=.+$/.test(p));
  if (state.paramError) {
    render();
    return;
  }
  state.busy = true;
  state.error = null;
  render();
  try {
    state.response = await api.auditEntries(queryString());
  } catch (e) {
    state.response = null;
    state.error = e;
  }
  state.busy = false;
  render();
}

function results(response) {
  const out = h('div', { class: 'log-results' });
  const v = response.verification || { ok: false, message: '' };
  out.append(h('div', { class: v.ok ? 'verification verification-ok' : 'verification verification-failed',
    id: 'verification', 'data-ok': v.ok ? 'true' : 'false', role: v.ok ? 'status' : 'alert' },
  h('p', {}, h('strong', {}, v.ok ? `✔ ${t('log.verified')}` : `✘ ${t('log.unverified')}`)),
  h('p', { class: 'verification-message', 'data-source': 'enclave' }, v.message || '')));
  const facts = [];
  if (response.log_size !== undefined) facts.push(t('log.size', { n: formatNumber(response.log_size) }));
  facts.push(response.checkpoint ? t('log.checkpoint', { origin: response.checkpoint.origin, size: formatNumber(response.checkpoint.tree_size) }) : t('log.nocheckpoint'));
  out.append(h('p', { class: 'log-facts' }, facts.join(' · ')));
  if (!v.ok) return out;
  const entries = response.entries || [];
  out.append(h('p', { role: 'status', id: 'log-count' }, t('log.count', { n: formatNumber(entries.length) })));
  if (!entries.length) {
    out.append(h('p', {}, t('log.none')));
    return out;
  }
  const table = h('table', { class: 'utrecht-table log-table', id: 'log-table' }, h('caption', {}, t('log.caption')),
    h('thead', {}, h('tr', {}, ['log.seq', 'log.time', 'log.type', 'log.who', 'log.what', 'log.params', 'log.outcome', 'log.cells']
      .map((k) => h('th', { scope: 'col' }, t(k))))));
  const body = h('tbody');
  for (const entry of entries) body.append(...entryRows(entry));
  table.append(body);
  out.append(h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': t('log.caption') }, table));
  return out;
}

// An entry's row, and below it, over the full width, its decoded cell rules (if it has any).
function entryRows(entry) {
  const params = (entry.parameters || []).map((p) => `${p.name}=${p.value}`);
  const who = [entry.caller, entry.project ? `${t('log.project')}: ${entry.project}` : ''].filter(Boolean);
  const outcome = [entry.decision || '', entry.reason ? h('span', {}, `${t('log.reason')}: `, h('span', { 'data-source': 'enclave' }, entry.reason)) : ''].filter(Boolean);
  const cells = Array.isArray(entry.cells) ? entry.cells : [];
  const withheld = cells.filter((c) => c.withheld).length;
  let cellSummary = '';
  if (entry.cells_error) cellSummary = h('span', { class: 'field-error' }, t('log.cells.error'));
  else if (cells.length) cellSummary = t('log.cells.summary', { n: formatNumber(cells.length), w: formatNumber(withheld) });
  else if (entry.cell_counts) cellSummary = Object.entries(entry.cell_counts).map(([k, n]) => `${k}: ${n}`).join(', ');
  const rows = [h('tr', { class: 'entry-row', 'data-sequence': entry.sequence, 'data-request-id': entry.request_id || '' },
    h('th', { scope: 'row' }, String(entry.sequence ?? '')),
    h('td', { class: 'time' }, entry.time || ''),
    h('td', {}, entry.type || ''),
    h('td', { class: 'wrap' }, who.map((w) => h('span', { class: 'block' }, w))),
    h('td', {}, entry.template_id ? `${entry.template_id}${entry.template_version ? ` v${entry.template_version}` : ''}` : (entry.rpc || '')),
    h('td', { class: 'wrap params' }, params.map((p) => h('code', { class: 'block' }, p))),
    h('td', { class: 'wrap' }, outcome.map((w) => h('span', { class: 'block' }, w))),
    h('td', {}, cellSummary))];
  if (entry.cells_error || cells.length) {
    rows.push(h('tr', { class: 'cells-row', 'data-sequence': entry.sequence, 'data-request-id': entry.request_id || '' },
      h('td', { colspan: 8 }, cellsOf(entry))));
  }
  return rows;
}

function cellsOf(entry) {
  if (entry.cells_error) return h('p', { class: 'field-error' }, `${t('log.cells.error')}: `, h('span', { 'data-source': 'enclave' }, entry.cells_error));
  const cells = entry.cells;
  const withheld = cells.filter((c) => c.withheld).length;
  const table = h('table', { class: 'utrecht-table cell-rules' }, h('caption', {}, t('log.cells.caption', { id: entry.request_id || entry.sequence })),
    h('thead', {}, h('tr', {}, ['log.cells.cell', 'log.cells.stat', 'log.cells.rule', 'log.cells.explanation'].map((k) => h('th', { scope: 'col' }, t(k))))));
  const body = h('tbody');
  for (const c of cells) {
    body.append(h('tr', { class: c.withheld ? 'withheld' : 'released', 'data-withheld': c.withheld ? 'true' : 'false' },
      h('th', { scope: 'row' }, pick(c.labels ? { nl: (c.labels.nl || []).join(' × '), en: (c.labels.en || []).join(' × ') } : '')),
      h('td', {}, c.statistic ? pick(c.statistic.label) || c.statistic.name : ''),
      // The rule and its detail are the enclave's codes ("secondary units/flags=1/lp-audit").
      h('td', {}, h('code', { 'data-source': 'enclave' }, `${c.rule || ''}${c.detail ? ` ${c.detail}` : ''}`)),
      // The enclave's explanation names the outcome ("withheld, share denominator below 100").
      h('td', {}, pick(c.explanation) || (c.withheld ? t('log.cells.withheld') : t('log.cells.released')))));
  }
  table.append(body);
  const key = String(entry.sequence);
  const details = h('details', { class: 'cell-details', open: state.open.has(key) ? true : null,
    ontoggle: (e) => { if (e.target.open) state.open.add(key); else state.open.delete(key); } },
  h('summary', {}, t('log.cells.summary', { n: formatNumber(cells.length), w: formatNumber(withheld) })), table);
  if (entry.rules_header) details.append(h('p', { class: 'help' }, h('code', { 'data-source': 'enclave' }, entry.rules_header)));
  return details;
}
