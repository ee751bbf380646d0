// The researcher's view: agreements and their privacy budgets as gauges (<meter>), and what each
// differentially private table of this page session charged (budget_charge of the release).
import { api } from './api.mjs';
import { h, clear } from './dom.mjs';
import { t, formatMicro } from './i18n.mjs';
import { errorBox } from './errors.mjs';
import { chargesOfSession } from './analyst.mjs';

const state = { ledgers: null, error: null };
let root = null;

export async function mountResearcher(element) {
  root = element;
  await refresh();
}

export async function refresh() {
  try {
    const response = await api.budget();
    state.ledgers = response.ledgers || [];
    state.error = null;
  } catch (e) {
    state.error = e;
  }
  render();
}

export function render() {
  if (!root) return;
  clear(root);
  root.append(h('h2', { id: 'budget-heading' }, t('budget.heading')));
  if (state.error) root.append(errorBox(state.error));
  else if (!state.ledgers) root.append(h('p', { role: 'status' }, t('loading')));
  else if (!state.ledgers.length) root.append(h('p', {}, t('budget.none')));
  else {
    const table = h('table', { class: 'utrecht-table budget-table', id: 'budget-table' }, h('caption', {}, t('budget.caption')),
      h('thead', {}, h('tr', {}, ['budget.ledger', 'budget.gauge', 'budget.cap', 'budget.spent', 'budget.reserved', 'budget.remaining']
        .map((k) => h('th', { scope: 'col' }, t(k))))));
    const body = h('tbody');
    for (const l of state.ledgers) {
      const used = (l.spent_micro || 0) + (l.reserved_micro || 0);
      const cap = Math.max(1, l.cap_micro || 0);
      const meterId = `meter-${l.ledger.replace(/[^A-Za-z0-9_-]/g, '_')}`;
      const percent = Math.round((used / cap) * 100);
      body.append(h('tr', {},
        h('th', { scope: 'row', id: `${meterId}-name` }, l.ledger),
        h('td', {}, h('meter', { id: meterId, min: 0, max: cap, low: cap * 0.5, high: cap * 0.8, optimum: 0, value: Math.min(used, cap),
          'aria-labelledby': `${meterId}-name` }, `${percent}%`), ` ${percent}%`),
        h('td', { class: 'numeric' }, formatMicro(l.cap_micro || 0)),
        h('td', { class: 'numeric' }, formatMicro(l.spent_micro || 0)),
        h('td', { class: 'numeric' }, formatMicro(l.reserved_micro || 0)),
        h('td', { class: 'numeric' }, formatMicro(l.remaining_micro || 0))));
    }
    table.append(body);
    root.append(h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': t('budget.caption') }, table));
  }
  root.append(h('h3', {}, t('budget.runs')));
  const charges = chargesOfSession();
  if (!charges.length) {
    root.append(h('p', {}, t('budget.runs.none')));
    return;
  }
  const runs = h('table', { class: 'utrecht-table charges-table' }, h('caption', {}, t('budget.runs.caption')),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('budget.runs.template')), h('th', { scope: 'col' }, t('budget.runs.request')),
      h('th', { scope: 'col', class: 'numeric' }, t('budget.runs.charge')))));
  const body = h('tbody');
  for (const c of charges) {
    body.append(h('tr', {}, h('th', { scope: 'row' }, c.template), h('td', {}, h('code', {}, c.request_id || '')),
      h('td', { class: 'numeric' }, c.repeat ? `0 (${t('budget.runs.repeat')})` : formatMicro(c.charged_micro || 0))));
  }
  runs.append(body);
  root.append(runs);
}
