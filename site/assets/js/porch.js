/* Shared by the Porch pages: translated text, calls to the API, formatting.
   Data from the server is only ever set as text, never parsed as HTML. */
(() => {
  'use strict';

  const strings = JSON.parse(document.getElementById('porch-strings').textContent);
  const lang = document.documentElement.lang || 'en';
  /* The address of another page in this page's language: "portal/" -> "/de/portal/". */
  const base = document.documentElement.dataset.base || '/';
  const page = (path) => base + path;

  /* The language menu's links stay on this page, so they carry its query (?invoice=...). */
  for (const link of document.querySelectorAll('a[hreflang]')) {
    const url = new URL(link.href);
    new URLSearchParams(location.search).forEach((value, name) => {
      if (name !== 'locale') url.searchParams.set(name, value);
    });
    link.href = url.pathname + url.search;
  }

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

  /* Fill `node` with lines of customer data, one under the next (the node keeps white-space:
     pre-line). Each is isolated in a <bdi>, so that on a right-to-left page a phone number such
     as +49 30 1234567 or a Latin address line keeps its own order. */
  const lines = (node, texts) => {
    node.replaceChildren();
    texts.filter(Boolean).forEach((text, i) => {
      if (i) node.append('\n');
      node.append(el('bdi', null, text));
    });
    return node.childNodes.length > 0;
  };

  const has = (key) => key in strings;
  /* Text the page fetches when it needs it (the billing details editor's), beside what it carries. */
  const learn = (more) => Object.assign(strings, more);

  /* The text for `key` that fits the number `count` ("{count} month" / "{count} months"):
     key_one, key_few... as the language's plural rules pick, else key_other. */

  const plural = (key, count, values = {}) => {
    const form = key + '_' + new Intl.PluralRules(lang).select(count);
    return t(form in strings ? form : key + '_other', {count, ...values});
  };

  /* A same-origin JSON call. Never throws: resolves to {ok, status, code, param, message, example, data, retryAfter};
     code is the API's error code, or "network" when the server could not be reached. */
  const api = async (method, path, body, headers = {}) => {
    const init = {
      method,
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', Accept: 'application/json', ...headers},
    };
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
      param: failure.param || null,
      message: failure.message || '',
      example: failure.example || '',
      data,
      retryAfter: parseInt(response.headers.get('Retry-After') || '0', 10) || 0,
    };
  };

  /* An amount in the currency's minor unit (cents, yen...) as the page's language writes it. A format is
     made once per currency: making one costs more than using it, and the portal writes dozens of amounts. */
  const formats = {};
  const money = (amount, currency) => {
    const code = String(currency || '').toUpperCase();
    try {
      const format = formats[code] || (formats[code] = new Intl.NumberFormat(lang, {style: 'currency', currency: code}));
      return format.format(amount / 10 ** format.resolvedOptions().maximumFractionDigits);
    } catch (error) {
      return (amount / 100).toFixed(2) + ' ' + code;
    }
  };

  /* 20 -> "20%" (or "20 %", as the language writes it). */
  const percent = (value) => new Intl.NumberFormat(lang, {style: 'percent', maximumFractionDigits: 2}).format(value / 100);

  const dateFormat = new Intl.DateTimeFormat(lang, {dateStyle: 'medium'});
  const date = (seconds) => dateFormat.format(new Date(seconds * 1000));

  const regions = (() => {
    try {
      return new Intl.DisplayNames([lang], {type: 'region'});
    } catch (error) {
      return null;
    }
  })();
  const country = (code) => {
    try {
      return (regions && code && regions.of(code)) || code;
    } catch (error) {
      return code;
    }
  };
  /* An address as the lines of an envelope: in its country's order as the server wrote them
     (`lines`, "10117 Berlin"; in Japan the postal code first), then the country in the page's language. */
  const addressLines = (address) => {
    if (!address) return [];
    if (Array.isArray(address.lines)) return [...address.lines, country(address.country)].filter(Boolean);
    const region = [address.state, address.postal_code].filter(Boolean).join(' ');
    return [address.line1, address.line2, [address.city, region].filter(Boolean).join(', '), country(address.country)].filter(Boolean);
  };

  /* The tax id types whose abbreviation is not the end of their code ("de_stn": "St.-Nr."); any other
     type's is ("au_abn": "ABN"). */
  const taxTypes = Object.fromEntries((strings.tax_types || '').split(',').filter(Boolean).map((entry) => entry.split(':')));
  const errorText = strings.error_text || {refusals: {}, fields: {}};
  /* "EU VAT number" where the page has a translated name; else the abbreviation and the country
     in the page's language, "St.-Nr. (Deutschland)"; a code of another shape as it is, upper case. */
  const taxType = (type) => {
    const key = 'tax_' + type;
    if (key in strings) return t(key);
    const code = String(type || '');
    const [, region, rest] = /^([a-z]{2})_([a-z0-9_]+)$/.exec(code) || [];
    if (!region) return code.replace(/_/g, ' ').toUpperCase();
    return `${taxTypes[code] || rest.toUpperCase()} (${country(region.toUpperCase())})`;
  };
  const taxId = (id) => t('labelled', {label: taxType(id.type), value: id.value});

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

  /* `url` when it is an http(s) address, never javascript: or data:; else null. */
  const safeUrl = (url) => (typeof url === 'string' && /^https?:\/\//i.test(url) ? url : null);

  /* "Back to Acme": to where the API says this visit returns (a portal session's return_url, else the
     configuration's default_return_url), named by its business; no link when there is none. */
  const back = (url, business) => {
    const shown = document.getElementById('back');
    shown.hidden = !safeUrl(url);
    if (shown.hidden) return;
    shown.firstChild.href = url;
    shown.firstChild.lastChild.textContent = ' ' + (business && business.name ? t('back_to', {name: business.name}) : t('back'));
  };

  window.Porch = {lang, page, t, has, learn, plural, fill, el, lines, api, money, percent, date, later, problem, busy, country, addressLines, taxId, taxType, taxTypes, errorText, safeUrl, back};
})();
