/* The portal page: loads GET /api/portal and shows it, plan and next charge first.

   Buttons for features (cancel, update, ...) plug in through Porch.portal.actions:
   push {feature, label, shows(item, data), run(item, data)} onto the list for a kind
   of item ("subscription", "payment_method", "customer") from a script loaded after
   this one. A button appears when data.features[feature].enabled and shows() agree;
   when run() resolves to anything but false, the page loads its data again. */
(() => {
  'use strict';

  const {lang, t, fill, el, api, money, date, problem, busy} = window.Porch;
  const $ = (id) => document.getElementById(id);
  const actions = {subscription: [], payment_method: [], customer: []};
  let loaded = false;

  const TONES = {
    active: 'good', paid: 'good', trialing: 'info', draft: 'info', open: 'warn', past_due: 'warn',
    unpaid: 'warn', incomplete: 'warn', uncollectible: 'bad', paused: 'muted', canceled: 'muted',
    incomplete_expired: 'muted', void: 'muted',
  };
  const SUBSCRIPTION_ORDER = ['past_due', 'unpaid', 'incomplete', 'active', 'trialing', 'paused'];
  const PER = {day: 'per_day', week: 'per_week', month: 'per_month', year: 'per_year'};
  const BRANDS = {
    amex: 'American Express', cartes_bancaires: 'Cartes Bancaires', diners: 'Diners Club', discover: 'Discover',
    eftpos_au: 'eftpos', jcb: 'JCB', mastercard: 'Mastercard', unionpay: 'UnionPay', visa: 'Visa',
  };

  const enabled = (data, feature) => Boolean(data.features && data.features[feature] && data.features[feature].enabled);
  const words = (code) => String(code || '').replace(/_/g, ' ');
  const safeUrl = (url) => (typeof url === 'string' && /^https?:\/\//i.test(url) ? url : null);

  /* A copy of a <template> row, with its [data-field] elements by name. */
  const row = (id) => {
    const node = $(id).content.firstElementChild.cloneNode(true);
    const fields = {};
    node.querySelectorAll('[data-field]').forEach((field) => {
      fields[field.dataset.field] = field;
    });
    return [node, fields];
  };

  const badge = (node, prefix, value) => {
    const key = prefix + value;
    node.textContent = t(key) === key ? words(value) : t(key);
    node.className = 'badge badge-' + (TONES[value] || 'muted');
    node.hidden = false;
  };

  const renderActions = (container, kind, item, data) => {
    container.replaceChildren();
    for (const action of actions[kind]) {
      if (!enabled(data, action.feature) || (action.shows && !action.shows(item, data))) continue;
      const button = el('button', 'secondary', t(action.label));
      button.type = 'button';
      button.addEventListener('click', async () => {
        const result = await busy(button, t('working'), () => action.run(item, data));
        if (result !== false && result !== undefined) load();
      });
      container.append(button);
    }
  };

  /* "$29.00 per month", "$290.00 every 3 months". */
  const perInterval = (amount, recurring) => {
    if (!recurring) return amount;
    const count = recurring.interval_count || 1;
    if (count === 1 && PER[recurring.interval]) return t(PER[recurring.interval], {amount});
    let period;
    try {
      period = new Intl.NumberFormat(lang, {style: 'unit', unit: recurring.interval, unitDisplay: 'long'}).format(count);
    } catch (error) {
      period = count + ' ' + recurring.interval;
    }
    return t('every', {amount, period});
  };

  const nextEvent = (sub) => {
    if (sub.status === 'canceled' || sub.ended_at) {
      const at = sub.canceled_at || sub.ended_at;
      return at ? t('canceled_on', {date: date(at)}) : '';
    }
    if (sub.cancel_at_period_end || sub.cancel_at) {
      const at = sub.cancel_at || sub.current_period_end;
      return at ? t('ends_on', {date: date(at)}) : '';
    }
    if (sub.status === 'trialing' && sub.trial_end) return t('trial_ends', {date: date(sub.trial_end)});
    if (sub.current_period_end && sub.status !== 'paused') return t('renews_on', {date: date(sub.current_period_end)});
    return '';
  };

  const subscriptionRow = (sub, data) => {
    const [node, field] = row('subscription-row');
    const items = (sub.items && sub.items.data) || [];
    const product = (item) => (item.price && item.price.product && item.price.product.name) || '';
    field.title.textContent = items.map(product).filter(Boolean).join(', ') || sub.id;
    badge(field.status, 'status_', sub.status);
    for (const item of items) {
      const price = item.price || {};
      const quantity = item.quantity || 1;
      const line = el('li');
      if (items.length > 1 && product(item)) line.append(el('span', 'line-name', product(item)));
      if (price.nickname) line.append(el('span', 'line-name', price.nickname));
      if (typeof price.unit_amount === 'number') {
        line.append(el('span', 'amount', perInterval(money(price.unit_amount * quantity, price.currency), price.recurring)));
        if (quantity > 1) line.append(el('span', 'muted', t('quantity', {quantity, amount: money(price.unit_amount, price.currency)})));
      }
      field.lines.append(line);
    }
    field.when.textContent = nextEvent(sub);
    renderActions(field.actions, 'subscription', sub, data);
    return node;
  };

  const paymentMethodRow = (method, data) => {
    const [node, field] = row('payment-method-row');
    const card = method.type === 'card' && method.card;
    if (card) {
      const brand = BRANDS[card.brand] || words(card.brand) || t('card');
      const shown = el('span', null, brand + ' •••• ' + card.last4);
      shown.setAttribute('aria-hidden', 'true');
      field.title.append(shown, el('span', 'visually-hidden', t('card', {brand, last4: card.last4})));
      const now = new Date();
      const expired = card.exp_year < now.getFullYear() || (card.exp_year === now.getFullYear() && card.exp_month < now.getMonth() + 1);
      field.expires.textContent = t('expires', {date: String(card.exp_month).padStart(2, '0') + '/' + card.exp_year});
      if (expired) field.expires.append(' ', el('span', 'badge badge-bad', t('expired')));
    } else {
      field.title.textContent = words(method.type);
    }
    const settings = data.customer && data.customer.invoice_settings;
    if (settings && settings.default_payment_method === method.id) {
      field.badge.textContent = t('default');
      field.badge.className = 'badge badge-info';
      field.badge.hidden = false;
    }
    renderActions(field.actions, 'payment_method', method, data);
    return node;
  };

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
  const addressLines = (address) => {
    if (!address) return [];
    const region = [address.state, address.postal_code].filter(Boolean).join(' ');
    return [address.line1, address.line2, [address.city, region].filter(Boolean).join(', '), country(address.country)].filter(Boolean);
  };

  const renderDetails = (customer, data) => {
    const list = $('details');
    list.replaceChildren();
    const add = (label, lines, note) => {
      const value = el('dd');
      const text = lines.filter(Boolean).join('\n');
      value.textContent = text || t('not_set');
      if (!text) value.className = 'muted';
      if (note) value.append(el('span', 'note', note));
      list.append(el('dt', null, t(label)), value);
    };
    const shipping = customer.shipping;
    const taxIds = (customer.tax_ids && customer.tax_ids.data) || [];
    add('name', [customer.name]);
    add('email', [customer.email], t('email_note'));
    add('phone', [customer.phone]);
    add('address', addressLines(customer.address));
    if (shipping) add('shipping', [shipping.name, ...addressLines(shipping.address), shipping.phone]);
    add('tax_ids', taxIds.map((id) => words(id.type).toUpperCase() + ' ' + id.value));
    renderActions($('details-actions'), 'customer', customer, data);
  };

  const invoiceRow = (invoice) => {
    const tr = el('tr');
    const cell = (label, content) => {
      const td = el('td');
      td.dataset.label = t(label);
      td.append(content);
      tr.append(td);
      return td;
    };
    const number = invoice.number || invoice.id;
    cell('date', invoice.created ? date(invoice.created) : '');
    cell('number', number);
    cell('amount', money(invoice.total, invoice.currency)).className = 'num';
    const status = el('span');
    badge(status, 'invoice_', invoice.status);
    cell('status', status);
    const links = el('span', 'links');
    const link = (url, text, label) => {
      if (!safeUrl(url)) return;
      const a = el('a', null, t(text));
      a.href = url;
      a.rel = 'noopener noreferrer';
      a.setAttribute('aria-label', t(label, {number}));
      links.append(a);
    };
    link(invoice.hosted_invoice_url, 'view_invoice', 'view_invoice_label');
    link(invoice.invoice_pdf, 'download_pdf', 'download_pdf_label');
    cell('', links).className = 'links-cell';
    return tr;
  };

  /* Put `rows` in `list`, or show `empty` when there are none. */
  const show = (list, empty, rows) => {
    list.replaceChildren(...rows);
    list.hidden = !rows.length;
    empty.hidden = rows.length > 0;
  };

  const render = (data) => {
    const customer = data.customer || {};
    fill($('who'), 'signed_in_as', {email: el('strong', null, customer.email || '')});
    const rank = (sub) => (SUBSCRIPTION_ORDER.includes(sub.status) ? SUBSCRIPTION_ORDER.indexOf(sub.status) : 99);
    const subscriptions = [...(data.subscriptions || [])].sort((a, b) => rank(a) - rank(b));
    show($('subscriptions'), $('subscriptions-empty'), subscriptions.map((sub) => subscriptionRow(sub, data)));
    const defaultId = customer.invoice_settings && customer.invoice_settings.default_payment_method;
    const methods = [...(data.payment_methods || [])].sort((a, b) => (b.id === defaultId) - (a.id === defaultId));
    show($('payment-methods'), $('payment-methods-empty'), methods.map((method) => paymentMethodRow(method, data)));
    renderDetails(customer, data);
    const invoices = $('invoices-section');
    if (invoices) {
      invoices.hidden = !enabled(data, 'invoice_history');
      const rows = (data.invoices || []).map(invoiceRow);
      show($('invoices').tBodies[0], $('invoices-empty'), rows);
      $('invoices').hidden = !rows.length;
    }
  };

  const load = async () => {
    const first = !loaded;
    $('failure').hidden = true;
    $('alert').textContent = '';
    $('status').textContent = t('loading');
    const result = await api('GET', 'portal');
    if (result.status === 401) {
      location.replace('/login/');
      return;
    }
    if (!result.ok || !result.data) {
      $('status').textContent = '';
      $('failure-text').textContent = t('load_failed') + ' ' + problem(result);
      $('failure').hidden = false;
      if (!loaded) $('content').hidden = true;
      return;
    }
    render(result.data);
    loaded = true;
    $('status').textContent = first ? '' : t('loaded');
    $('content').hidden = false;
  };

  $('retry').addEventListener('click', async () => {
    await busy($('retry'), t('working'), load);
    if ($('failure').hidden) $('title').focus();
  });

  $('sign-out').addEventListener('click', async () => {
    const result = await busy($('sign-out'), t('signing_out'), () => api('POST', 'logout', {}));
    if (!result) return;
    if (result.ok || result.status === 401) {
      location.assign('/login/?signed_out=1');
      return;
    }
    $('alert').textContent = problem(result);
  });

  window.Porch.portal = Object.freeze({actions, reload: load});
  /* Scripts loaded after this one register their actions before the data arrives. */
  document.addEventListener('DOMContentLoaded', load);
})();
