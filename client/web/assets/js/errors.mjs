// An error as the page shows it: the enclave's message (its own language choice comes from the
// server), the HTTP status explained for 401/403, and the enclave's suggestions as buttons.
import { h } from './dom.mjs';
import { t } from './i18n.mjs';

export function errorBox(error, renderSuggestions) {
  const box = h('div', { class: 'utrecht-alert utrecht-alert--error error-box', role: 'alert', 'data-status': String(error.status || 0) });
  box.append(h('p', { class: 'error-title' }, h('strong', {}, t('error.heading'))));
  if (error.status === 401) box.append(h('p', {}, t('error.unauthorized')));
  else if (error.status === 403) box.append(h('p', {}, t('error.forbidden')));
  else if (error.status === 0) box.append(h('p', {}, t('error.network')));
  else box.append(h('p', { class: 'error-code' }, `${t('error.http', { status: error.status })}${error.code ? ` (${error.code})` : ''}`));
  // The enclave's own message, as the server sends it (not a text of the page).
  if (error.message) box.append(h('p', { class: 'error-message', 'data-source': 'enclave' }, error.message));
  if (renderSuggestions && Array.isArray(error.suggestions) && error.suggestions.length) {
    box.append(h('p', {}, t('error.suggestions')), renderSuggestions(error.suggestions));
  }
  return box;
}
