// Start: ask the server who we are, show the views of that role, and switch languages.
import { api } from './api.mjs';
import { h, clear } from './dom.mjs';
import { t, setLang, lang } from './i18n.mjs';
import { errorBox } from './errors.mjs';
import { mountAnalyst, render as renderAnalyst } from './analyst.mjs';
import { mountResearcher, render as renderResearcher, refresh as refreshBudget } from './researcher.mjs';
import { mountOfficer, render as renderOfficer } from './officer.mjs';

// Which views a role sees. An unknown role sees all three; the server answers 403 where it must.
const VIEWS_BY_ROLE = {
  municipal_analyst: ['tables'],
  researcher: ['tables', 'budget'],
  privacy_officer: ['log'],
};
const ALL_VIEWS = ['tables', 'budget', 'log'];
const VIEW_KEYS = { tables: 'nav.tables', budget: 'nav.budget', log: 'nav.log' };

const app = { session: null, sessionError: null, views: [], current: null, mounted: new Set() };

function translateStatic() {
  document.documentElement.lang = lang();
  document.title = t('app.title');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.getAttribute('data-i18n'));
  const toggle = document.getElementById('lang-toggle');
  toggle.textContent = t('lang.switch');
  toggle.setAttribute('lang', lang() === 'nl' ? 'en' : 'nl');
  toggle.setAttribute('aria-label', t('lang.switch.label'));
  document.getElementById('main-nav').setAttribute('aria-label', t('nav.label'));
}

function renderSession() {
  const el = clear(document.getElementById('session'));
  if (app.sessionError) {
    el.append(errorBox(app.sessionError));
    return;
  }
  if (!app.session) return;
  const role = app.session.role || '';
  const roleText = t(`role.${role}`) === `role.${role}` ? t('role.unknown') : t(`role.${role}`);
  el.append(`${t('session.as')} `, h('code', {}, app.session.caller || t('session.none')),
    ` (${t('session.role')}: ${roleText})`);
}

function renderNav() {
  const nav = clear(document.getElementById('main-nav'));
  const list = h('ul', { class: 'nav-list' });
  for (const view of app.views) {
    list.append(h('li', {}, h('button', { type: 'button', id: `nav-${view}`, class: 'nav-button', 'aria-controls': `view-${view}`,
      'aria-current': app.current === view ? 'page' : null, onclick: () => show(view) }, t(VIEW_KEYS[view]))));
  }
  nav.append(list);
}

function show(view) {
  app.current = view;
  for (const v of ALL_VIEWS) document.getElementById(`view-${v}`).hidden = v !== view;
  const el = document.getElementById(`view-${view}`);
  if (!app.mounted.has(view)) {
    app.mounted.add(view);
    if (view === 'tables') mountAnalyst(el, () => refreshBudget());
    if (view === 'budget') mountResearcher(el);
    if (view === 'log') mountOfficer(el);
  } else if (view === 'budget') {
    refreshBudget();
  }
  renderNav();
}

function rerenderAll() {
  translateStatic();
  renderSession();
  renderNav();
  if (app.mounted.has('tables')) renderAnalyst();
  if (app.mounted.has('budget')) renderResearcher();
  if (app.mounted.has('log')) renderOfficer();
}

async function start() {
  document.getElementById('lang-toggle').addEventListener('click', () => {
    setLang(lang() === 'nl' ? 'en' : 'nl');
    rerenderAll();
  });
  translateStatic();
  try {
    app.session = await api.session();
    setLang(app.session.lang === 'en' ? 'en' : 'nl');
  } catch (e) {
    app.sessionError = e;
  }
  const role = (app.session && app.session.role) || '';
  app.views = VIEWS_BY_ROLE[role] || (app.sessionError ? [] : ALL_VIEWS);
  translateStatic();
  renderSession();
  if (app.views.length) show(app.views[0]);
  else renderNav();
  document.body.setAttribute('data-ready', 'true');
}

start();
