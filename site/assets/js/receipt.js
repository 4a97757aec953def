/* The receipt page: one invoice from GET /api/invoices/{id} (the id from ?invoice=), laid out
   to read on screen and to print, or save as a PDF, from the browser. */
(() => {
  'use strict';

  const {t, fill, el, lines: fillLines, api, page, money, percent, date, problem, addressLines, taxId, back, safeUrl} = window.Porch;
  const $ = (id) => document.getElementById(id);
  const TONES = {paid: 'good', open: 'warn', draft: 'info', uncollectible: 'bad', void: 'muted'};

  const fail = (text) => {
    $('status').textContent = '';
    $('failure-text').textContent = text;
    $('failure').hidden = false;
  };

  const set = (id, text, row) => {
    const shown = text !== null && text !== undefined && text !== '';
    $(id).textContent = shown ? text : '';
    if (row) $(row).hidden = !shown;
  };

  const link = (id, url) => {
    const safe = safeUrl(url);
    $(id).hidden = !safe;
    if (safe) {
      $(id).href = safe;
      $(id).rel = 'noopener noreferrer';
    }
  };

  /* "VAT (19%, included)": a tax's name, its rate when known, and whether it is in the prices already. */
  const taxLabel = (tax) => {
    const name = tax.display_name || t('tax');
    const rate = typeof tax.percentage === 'number' ? percent(tax.percentage) : null;
    if (tax.inclusive) return rate === null ? t('tax_included', {name}) : t('tax_rate_included', {name, percent: rate});
    return rate === null ? name : t('tax_rate', {name, percent: rate});
  };

  /* Each discount's amount and name: the invoice's totals per discount, else its lines' amounts added up;
     the name is the coupon's, where the invoice carries its discounts expanded. */
  const discountRows = (invoice, lines) => {
    const named = {};
    [invoice.discounts, ...lines.map((line) => line.discounts)].flat().forEach((discount) => {
      if (discount && discount.id && discount.coupon && discount.coupon.name) named[discount.id] = discount.coupon.name;
    });
    let amounts = invoice.total_discount_amounts;
    if (!Array.isArray(amounts)) {
      const sums = new Map();
      lines.flatMap((line) => line.discount_amounts || []).forEach(({amount, discount}) => {
        sums.set(discount, (sums.get(discount) || 0) + amount);
      });
      amounts = [...sums].map(([discount, amount]) => ({discount, amount}));
    }
    return amounts.filter((entry) => entry.amount > 0)
      .map((entry) => [named[entry.discount] || t('discount'), -entry.amount]);
  };

  const render = ({invoice, customer = {}, business = {}, return_url: returnUrl}) => {
    back(returnUrl, business);
    const number = invoice.number || invoice.id;
    const paid = invoice.status === 'paid';
    const currency = invoice.currency;
    const amount = (value) => (typeof value === 'number' ? money(value, currency) : null);
    $('title').textContent = paid ? t('receipt') : t('invoice');
    document.title = t(paid ? 'receipt_title' : 'invoice_title', {number}) + (business.name ? ' · ' + business.name : '');
    const badge = $('invoice-status');
    const key = 'invoice_' + invoice.status;
    badge.textContent = t(key) === key ? String(invoice.status || '') : t(key);
    badge.className = 'badge badge-' + (TONES[invoice.status] || 'muted');

    if (business.name) $('business').textContent = business.name;
    set('business-email', business.support_email);
    set('number', number);
    set('issued', invoice.created ? date(invoice.created) : '', 'issued-row');
    const owed = invoice.status === 'open' || invoice.status === 'uncollectible';
    set('due', owed && invoice.due_date ? date(invoice.due_date) : '', 'due-row');
    const period = invoice.period_start && invoice.period_end && invoice.period_end > invoice.period_start
      ? t('period', {start: date(invoice.period_start), end: date(invoice.period_end)}) : '';
    set('period', period, 'period-row');

    const ids = Array.isArray(customer.tax_ids) ? customer.tax_ids : (customer.tax_ids && customer.tax_ids.data) || [];
    // An invoice without the customer's details has no "Billed to" at all, not an empty one.
    $('billed-block').hidden = !fillLines($('billed'),
      [customer.name, customer.email, ...addressLines(customer.address), ...ids.map(taxId)]);

    const lines = (invoice.lines && invoice.lines.data) || [];
    $('lines').replaceChildren(...lines.map((line) => {
      const tr = el('tr');
      const what = el('td');
      what.append(el('span', null, line.description || ''));
      if (line.period && line.period.start && line.period.end && line.period.end > line.period.start) {
        what.append(el('span', 'line-period', t('period', {start: date(line.period.start), end: date(line.period.end)})));
      }
      tr.append(what, el('td', 'num', line.quantity ? String(line.quantity) : ''), el('td', 'num', amount(line.amount)));
      return tr;
    }));
    $('lines-table').hidden = !lines.length;
    // A partial list of lines would not add up to the totals: say so, and point to the whole invoice.
    const partial = Boolean(invoice.lines && invoice.lines.has_more);
    $('lines-missing').hidden = !partial;
    link('lines-hosted', partial && invoice.hosted_invoice_url);
    link('lines-pdf', partial && !safeUrl(invoice.hosted_invoice_url) && invoice.invoice_pdf);

    set('subtotal', amount(invoice.subtotal), 'subtotal-row');
    const row = ([label, value]) => {
      const div = el('div', 'adjustment');
      div.append(el('dt', null, label), el('dd', null, amount(value)));
      return div;
    };
    const taxes = (invoice.total_taxes || []).map((tax) => [taxLabel(tax), tax.amount]);
    $('total-row').before(...[...discountRows(invoice, lines), ...taxes].map(row));
    set('total', amount(invoice.total));
    set('paid', amount(invoice.amount_paid), 'paid-row');
    set('remaining', owed && invoice.amount_remaining > 0 ? amount(invoice.amount_remaining) : '', 'remaining-row');

    if (business.support_email) {
      const mail = el('a', null, business.support_email);
      mail.href = 'mailto:' + business.support_email;
      fill($('receipt-foot'), 'questions', {email: mail});
    }
    link('pdf', invoice.invoice_pdf);
    // The hosted invoice page is where an open invoice is paid: then it is offered as that, once.
    const payable = (invoice.actions || []).includes('pay');
    link('pay', payable && invoice.hosted_invoice_url);
    $('pay').setAttribute('aria-label', t('pay_label', {number}));
    link('hosted', !payable && invoice.hosted_invoice_url);
    $('status').textContent = '';
    $('receipt').hidden = false;
    $('tools').hidden = false;
  };

  const load = async () => {
    const id = new URLSearchParams(location.search).get('invoice');
    if (!id) {
      fail(t('not_found'));
      return;
    }
    const result = await api('GET', 'invoices/' + encodeURIComponent(id));
    if (result.status === 401) {
      location.replace(page('login/'));
      return;
    }
    if (result.status === 404) fail(t('not_found'));
    else if (!result.ok || !result.data || !result.data.invoice) fail(t('load_failed') + ' ' + problem(result));
    else render(result.data);
  };

  $('print').addEventListener('click', () => window.print());
  load();
})();
