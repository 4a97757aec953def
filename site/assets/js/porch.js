/* Shared by the Porch pages: translated text, calls to the API, formatting.
   Data from the server is only ever set as text, never parsed as HTML. */
(() => {
  'use strict';

  const strings = JSON.parse(document.getElementById('porch-strings').textContent);
  const lang = document.documentElement.lang || 'en';

  /* The translated text for `key`, with {placeholders} filled in. */
  const t = (key, values = {}) =>
    (strings[key] || key).replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));

  /* Fill `element` with the text for `key`; a value that is a DOM node is inserted as that node. */
  const fill = (element, key, values = {}) => {
    element.replaceChildren();
    (strings[key] || key).split(/(\{\w+\})/).forEach((part) => {
      const name = /^\{(\w+)\}$/.exec(part);
      const value = name && name[1] in values ? values[name[1]] : part;
      if (value !== '') element.append(value instanceof Node ? value : document.createTextNode(String(value)));
    });
  };

  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };

  /* A same-origin JSON call. Never throws: resolves to {ok, status, code, data, retryAfter};
     code is the API's error code, or "network" when the server could not be reached. */
  const api = async (method, path, body) => {
    const init = {method, credentials: 'same-origin', headers: {'Content-Type': 'application/json', Accept: 'application/json'}};
    if (body !== undefined) init.body = JSON.stringify(body);
    let response;
    try {
      response = await fetch('/api/' + path, init);
    } catch (error) {
      return {ok: false, status: 0, code: 'network', data: null, retryAfter: 0};
    }
    let data = null;
    try {
      data = response.status === 204 ? null : await response.json();
    } catch (error) {
      data = null;
    }
    const failure = (!response.ok && data && data.error) || {};
    return {
      ok: response.ok,
      status: response.status,
      code: response.ok ? null : failure.code || 'http_' + response.status,
      data,
      retryAfter: parseInt(response.headers.get('Retry-After') || '0', 10) || 0,
    };
  };

  /* An amount in the currency's minor unit (cents, yen...) as the page's language writes it. */
  const money = (amount, currency) => {
    const code = String(currency || '').toUpperCase();
    try {
      const format = new Intl.NumberFormat(lang, {style: 'currency', currency: code});
      return format.format(amount / 10 ** format.resolvedOptions().maximumFractionDigits);
    } catch (error) {
      return (amount / 100).toFixed(2) + ' ' + code;
    }
  };

  const dateFormat = new Intl.DateTimeFormat(lang, {dateStyle: 'medium'});
  const date = (seconds) => dateFormat.format(new Date(seconds * 1000));

  /* "in 45 seconds", "in 2 minutes": how long to wait, from a Retry-After value. */
  const later = (seconds) => {
    const relative = new Intl.RelativeTimeFormat(lang, {numeric: 'auto'});
    const wait = Math.max(1, seconds || 60);
    return wait < 90 ? relative.format(wait, 'second') : relative.format(Math.ceil(wait / 60), 'minute');
  };

  /* The message for a failed API call that the page does not handle itself. */
  const problem = (result) =>
    result.code === 'network' ? t('network') : result.status === 429 ? t('wait', {when: later(result.retryAfter)}) : t('failed');

  /* Run `work` with `button` showing `label`. The button stays focusable (aria-disabled, not
     disabled, so keyboard focus is not lost) and a second press while busy does nothing. */
  const busy = async (button, label, work) => {
    if (button.getAttribute('aria-disabled') === 'true') return undefined;
    const idle = button.textContent;
    button.setAttribute('aria-disabled', 'true');
    button.textContent = label;
    try {
      return await work();
    } finally {
      button.removeAttribute('aria-disabled');
      button.textContent = idle;
    }
  };

  window.Porch = {lang, t, fill, el, api, money, date, later, problem, busy};
})();
