/* The portal page: loads GET /api/portal and shows it, plan and next charge first.

   Buttons for features (cancel, update, ...) plug in through Porch.portal.actions:
   push {feature, label, shows(item, data), run(item, data, button), name(item)} onto the
   list for a kind of item ("subscription", "payment_method", "customer", or
   "payment_methods" for the section itself) from a script loaded after this one.
   A button appears when data.features[feature].enabled (or feature is null) and shows() agree; name(item),
   when given, is added to the button's accessible name ("Remove, Visa ending in 4444").
   A dialog's run() is later(label): the dialogs' code sets runs[label] when it comes (see prepare).
   When run() resolves to a message the page loads its data again and announces it;
   to true, it reloads quietly; to false or nothing, nothing happens.
   Parts of the page outside the sections push a function onto Porch.portal.rendered: it gets
   the data each time the page shows it. */
(() => {
  'use strict';

  const {lang, page, t, plural, fill, el, lines: fillLines, api, money, percent, date, problem, busy, addressLines, taxId, methods, back, safeUrl, learn: learnText} = window.Porch;
  const {sentence, uuid} = window.Porch.refusals;
  const $ = (id) => document.getElementById(id);
  const actions = {subscription: [], payment_method: [], payment_methods: [], customer: []};
  const rendered = [];
  const HEADINGS = {subscription: 'subscriptions-title', payment_method: 'payment-title', payment_methods: 'payment-title',
    customer: 'details-title'};
  const INVOICE_PAGE = 24;
  let loaded = false;
  let acting = false;
  let invoices = [];
  let current = {};

  const TONES = {
    active: 'good', paid: 'good', trialing: 'info', draft: 'info', open: 'warn', past_due: 'warn',
    unpaid: 'warn', incomplete: 'warn', uncollectible: 'bad', paused: 'muted', canceled: 'muted',
    incomplete_expired: 'muted', void: 'muted',
  };
  const SUBSCRIPTION_ORDER = ['past_due', 'unpaid', 'incomplete', 'active', 'trialing', 'paused'];
  const PER = {day: 'per_day', week: 'per_week', month: 'per_month', year: 'per_year'};

  const enabled = (data, feature) => Boolean(data.features && data.features[feature] && data.features[feature].enabled);
  /* Whether the server accepts this action on this subscription or payment method now (its "actions"). */
  const allows = (item, action) => Boolean(item && Array.isArray(item.actions) && item.actions.includes(action));
  const words = (code) => String(code || '').replace(/_/g, ' ');

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

  /* Run an action; after a change, load the data again, say what happened and put focus
     back on the same button in the new rows (or on the section's heading when it is gone). */
  const act = async (action, kind, item, data, button) => {
    if (acting || button.getAttribute('aria-disabled') === 'true') return;
    acting = true;
    let result;
    try {
      result = await action.run(item, data, button);
    } finally {
      acting = false;
    }
    if (result === false || result === undefined) return;
    const key = button.dataset.action;
    // A refusal that asks for the reload stays said across it.
    await load(typeof result === 'string' ? result : '', $('alert').textContent);
    if (document.activeElement && document.activeElement !== document.body) return;
    const again = [...document.querySelectorAll('[data-action]')].find((node) => node.dataset.action === key);
    (again || $(HEADINGS[kind])).focus();
  };

  const renderActions = (container, kind, item, data) => {
    container.replaceChildren();
    for (const action of actions[kind]) {
      if ((action.feature && !enabled(data, action.feature)) || (action.shows && !action.shows(item, data))) continue;
      const button = el('button', 'secondary', t(action.label));
      button.type = 'button';
      button.dataset.action = [kind, action.label, (item && item.id) || ''].join(' ');
      const name = action.name && action.name(item, data);
      if (name) button.setAttribute('aria-label', t('action_on', {action: t(action.label), item: name}));
      button.addEventListener('click', () => act(action, kind, item, data, button));
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

  /* A subscription by its products' names: "Pro, Extra seats". */
  const subscriptionName = (sub) => {
    const product = (item) => (item.price && item.price.product && item.price.product.name) || '';
    return ((sub.items && sub.items.data) || []).map(product).filter(Boolean).join(', ') || t('subscription');
  };

  /* A price as customers know it: "Pro yearly", or the product's name. */
  const priceName = (price) => {
    if (!price || typeof price !== 'object') return '';
    return price.nickname || (price.product && price.product.name) || '';
  };

  /* "Changes to Starter monthly on Dec 6, 2026". The schedule names its price by id: a price the
     subscription does not carry is named from GET /api/plans, asked once when needed. */
  const names = {};
  let scheduled = [];
  let askedPlans = false;
  const learn = (plans) => {
    for (const entry of plans || []) {
      for (const price of entry.prices || []) names[price.id] = price.nickname || entry.product.name;
    }
  };
  const describeSchedule = (node, sub, data) => {
    const schedule = sub.schedule;
    const id = typeof schedule.price === 'object' ? schedule.price && schedule.price.id : schedule.price;
    const carried = ((sub.items && sub.items.data) || []).map((item) => item.price).find((price) => price && price.id === id);
    let plan = carried ? priceName(carried) : names[id] || '';
    const when = date(schedule.effective_at);
    if (!plan && !askedPlans && enabled(data, 'subscription_update')) {
      askedPlans = true;
      api('GET', 'plans').then((result) => {
        if (!result.ok || !result.data) return;
        learn(result.data.plans);
        scheduled.forEach(([shown, item]) => describeSchedule(shown, item, data));
      });
    }
    if (plan && schedule.quantity > 1) plan = t('quantity_of', {quantity: schedule.quantity, plan});
    node.textContent = plan ? t('changes_to', {plan, date: when}) : t('changes_on', {date: when});
  };

  /* Stripe pauses collection on an active subscription with pause_collection: shown as paused. */
  const collectionPaused = (sub) => sub.status === 'active' && Boolean(sub.pause_collection);

  /* What happens next, only where it will happen: a subscription that failed to pay, never started
     or is paused does not renew on its period's end. */
  const nextEvent = (sub) => {
    if (sub.status === 'canceled' || sub.ended_at) {
      const at = sub.canceled_at || sub.ended_at;
      return at ? t('canceled_on', {date: date(at)}) : '';
    }
    if (sub.status === 'incomplete_expired') return '';
    if (sub.cancel_at_period_end || sub.cancel_at) {
      const at = sub.cancel_at || sub.current_period_end;
      return at ? t('ends_on', {date: date(at)}) : '';
    }
    if (collectionPaused(sub)) return sub.pause_collection.resumes_at ? t('resumes_on', {date: date(sub.pause_collection.resumes_at)}) : '';
    if (sub.status === 'trialing' && sub.trial_end) return t('trial_ends', {date: date(sub.trial_end)});
    if (sub.status === 'active' && sub.current_period_end) return t('renews_on', {date: date(sub.current_period_end)});
    return '';
  };

  /* What is wrong, said plainly with what to do, and its tone; null when all is well. */
  const NOTICES = {past_due: 'warn', unpaid: 'warn', incomplete: 'warn', incomplete_expired: 'muted', paused: 'info'};
  const notice = (sub) => {
    if (collectionPaused(sub)) {
      return ['info', t(sub.pause_collection.resumes_at ? 'notice_collection_paused' : 'notice_collection_paused_open')];
    }
    return NOTICES[sub.status] ? [NOTICES[sub.status], t('notice_' + sub.status)] : null;
  };

  /* The open invoice that would set a failed subscription right: its latest invoice, else its newest open one,
     when the server accepts paying it now (its "actions"). */
  const UNSETTLED = ['past_due', 'unpaid', 'incomplete'];
  const openInvoice = (sub, data) => {
    if (!UNSETTLED.includes(sub.status)) return null;
    const all = data.invoices || [];
    const found = sub.latest_invoice
      ? all.find((invoice) => invoice.id === sub.latest_invoice)
      : all.find((invoice) => invoice.subscription === sub.id && invoice.status === 'open');
    return allows(found, 'pay') ? found : null;
  };

  /* Pay: POST /api/invoices/{id}/pay. The server pays it now with the card on file and answers the invoice,
     or answers the page where the customer pays (the invoice's hosted page, or the processor's). An invoice
     with a hosted page is offered as a link to it, so that it still opens in a new tab, and a press goes
     through the server first. */
  const payControl = (invoice, text, label, className) => {
    const hosted = safeUrl(invoice.hosted_invoice_url);
    const control = el(hosted ? 'a' : 'button', className, text);
    if (hosted) {
      control.href = hosted;
      control.rel = 'noopener noreferrer';
    } else {
      control.type = 'button';
    }
    control.setAttribute('aria-label', label);
    control.addEventListener('click', (event) => {
      if (hosted && (event.ctrlKey || event.metaKey || event.shiftKey)) return;
      event.preventDefault();
      pay(invoice, control);
    });
    return control;
  };

  const payLink = (sub, data, name) => {
    const invoice = openInvoice(sub, data);
    if (!invoice) return null;
    const label = t('pay_amount', {amount: money(invoice.amount_remaining, invoice.currency)});
    return payControl(invoice, label, t('action_on', {action: label, item: name}), 'pay');
  };

  const subscriptionRow = (sub, data) => {
    const [node, field] = row('subscription-row');
    const items = (sub.items && sub.items.data) || [];
    const product = (item) => (item.price && item.price.product && item.price.product.name) || '';
    field.title.textContent = subscriptionName(sub);
    badge(field.status, 'status_', collectionPaused(sub) ? 'paused' : sub.status);
    const said = notice(sub);
    if (said) {
      field.notice.textContent = said[1];
      field.notice.className = 'notice notice-' + said[0];
      field.notice.hidden = false;
    }
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
    if (sub.schedule && sub.schedule.effective_at) {
      scheduled.push([field.schedule, sub]);
      describeSchedule(field.schedule, sub, data);
    }
    const percentOff = (discount) => discount && typeof discount === 'object' && discount.coupon && discount.coupon.percent_off;
    const discount = (sub.discounts || []).find(percentOff);
    const off = percentOff(discount);
    if (off) {
      const values = {percent: percent(off), date: discount.end ? date(discount.end) : ''};
      field.discount.textContent = t(discount.end ? 'discount_until' : 'discount', values);
      field.discount.className = 'badge badge-good';
      field.discount.hidden = false;
    }
    // A subscription charged to a method of its own says which; without one, the customer's default applies.
    const charged = (data.payment_methods || []).find((method) => method.id === methods.idOf(sub.default_payment_method));
    if (charged) fill(field.charged, 'charged_to', {method: methods.shown(charged)});
    renderActions(field.actions, 'subscription', sub, data);
    const pay = payLink(sub, data, field.title.textContent);
    if (pay) field.actions.prepend(pay);
    return node;
  };

  const defaultMethod = (data) => methods.idOf(data.customer && data.customer.invoice_settings && data.customer.invoice_settings.default_payment_method);

  /* "Expires 08/2030", with an Expired badge once the month is over. */
  const expiry = (card) => {
    const shown = el('span', null, t('expires', {date: String(card.exp_month).padStart(2, '0') + '/' + card.exp_year}));
    const now = new Date();
    const expired = card.exp_year < now.getFullYear() || (card.exp_year === now.getFullYear() && card.exp_month < now.getMonth() + 1);
    if (expired) shown.append(' ', el('span', 'badge badge-bad', t('expired')));
    return shown;
  };

  const paymentMethodRow = (method, data) => {
    const [node, field] = row('payment-method-row');
    node.dataset.method = method.id;
    field.title.append(methods.shown(method));
    const card = methods.cardOf(method);
    const facts = [...(card && card.exp_year ? [expiry(card)] : []), ...methods.facts(method).map((fact) => el('bdi', null, fact))];
    facts.forEach((fact, i) => field.facts.append(...(i ? [' · ', fact] : [fact])));
    if (defaultMethod(data) === method.id) {
      field.badge.textContent = t('default');
      field.badge.className = 'badge badge-info';
      field.badge.hidden = false;
    }
    renderActions(field.actions, 'payment_method', method, data);
    return node;
  };

  const renderDetails = (customer, data) => {
    const list = $('details');
    list.replaceChildren();
    const add = (label, lines, note) => {
      const value = el('dd');
      if (!fillLines(value, lines)) {
        value.textContent = t('not_set');
        value.className = 'muted';
      }
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
    add('tax_ids', taxIds.map(taxId));
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
    tr.dataset.invoice = invoice.id;
    cell('date', invoice.created ? date(invoice.created) : '');
    const receipt = el('a', null, number);
    receipt.href = page('receipt/?invoice=') + encodeURIComponent(invoice.id);
    receipt.setAttribute('aria-label', t('receipt_label', {number}));
    cell('number', receipt);
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
    // An invoice the customer can pay says Pay, in place of the link that views it.
    const plain = safeUrl(invoice.hosted_invoice_url) ? null : 'quiet';
    if (allows(invoice, 'pay')) links.append(payControl(invoice, t('pay'), t('pay_label', {number}), plain));
    else link(invoice.hosted_invoice_url, 'view_invoice', 'view_invoice_label');
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

  const renderSubscriptions = (data) => {
    scheduled = [];
    const rank = (sub) => (SUBSCRIPTION_ORDER.includes(sub.status) ? SUBSCRIPTION_ORDER.indexOf(sub.status) : 99);
    const subscriptions = [...(data.subscriptions || [])].sort((a, b) => rank(a) - rank(b));
    show($('subscriptions'), $('subscriptions-empty'), subscriptions.map((sub) => subscriptionRow(sub, data)));
  };

  const render = (data) => {
    const customer = data.customer || {};
    current = data;
    fill($('who'), 'signed_in_as', {email: el('strong', null, customer.email || '')});
    renderSubscriptions(data);
    const defaultId = defaultMethod(data);
    const saved = [...(data.payment_methods || [])].sort((a, b) => (b.id === defaultId) - (a.id === defaultId));
    show($('payment-methods'), $('payment-methods-empty'), saved.map((method) => paymentMethodRow(method, data)));
    renderActions($('payment-methods-actions'), 'payment_methods', saved, data);
    renderDetails(customer, data);
    const section = $('invoices-section');
    if (section) {
      section.hidden = !enabled(data, 'invoice_history');
      invoices = data.invoices || [];
      show($('invoices').tBodies[0], $('invoices-empty'), invoices.map(invoiceRow));
      $('invoices').hidden = !invoices.length;
      $('more-invoices').hidden = invoices.length < INVOICE_PAGE;
    }
    back(data.return_url, data.business);
    rendered.forEach((draw) => draw(data));
  };

  /* "Show more": the next page of invoices after the last one shown. */
  const moreInvoices = async () => {
    const last = invoices[invoices.length - 1];
    const result = await api('GET', 'invoices?limit=' + INVOICE_PAGE + '&starting_after=' + encodeURIComponent(last.id));
    if (result.status === 401) {
      location.replace(page('login/'));
      return;
    }
    if (!result.ok || !result.data) {
      $('alert').textContent = problem(result);
      return;
    }
    const page = result.data.data || [];
    const rows = page.map(invoiceRow);
    $('invoices').tBodies[0].append(...rows);
    invoices = invoices.concat(page);
    $('more-invoices').hidden = !result.data.has_more;
    $('status').textContent = plural('invoices_shown', invoices.length);
    if ($('more-invoices').hidden && rows.length) rows[0].querySelector('a').focus();
  };

  const load = async (message = '', refusal = '') => {
    const first = !loaded;
    $('failure').hidden = true;
    $('alert').textContent = '';
    $('status').textContent = t('loading');
    const result = await api('GET', 'portal');
    if (result.status === 401) {
      location.replace(page('login/'));
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
    $('status').textContent = message || (first ? '' : t('loaded'));
    $('alert').textContent = refusal;
    $('content').hidden = false;
  };

  /* Focus on an invoice's receipt link in the table, once the Pay pressed is gone; else on the subscriptions. */
  const focusInvoice = (id) => {
    const table = $('invoices');
    const shown = table && [...table.tBodies[0].rows].find((tr) => tr.dataset.invoice === id);
    (shown ? shown.querySelector('a') : $('subscriptions-title')).focus();
  };

  /* An invoice paid now shows as paid in its row and no longer asks to be paid on its subscription, which
     shows as the server read it after the payment; the rest stays as it is, with the invoices "Show more"
     added. Focus goes to the paid invoice's receipt. */
  const paid = (invoice, sub) => {
    const swap = (list, now) => list.map((old) => (now && old.id === now.id ? now : old));
    current = {...current, invoices: swap(current.invoices || [], invoice), subscriptions: swap(current.subscriptions || [], sub)};
    renderSubscriptions(current);
    const table = $('invoices');
    if (table) {
      invoices = swap(invoices, invoice);
      table.tBodies[0].replaceChildren(...invoices.map(invoiceRow));
    }
    $('status').textContent = t('paid_invoice', {number: invoice.number || invoice.id});
    focusInvoice(invoice.id);
  };

  const pay = async (invoice, control) => {
    if (acting) return;
    acting = true;
    $('alert').textContent = '';
    let result;
    try {
      const path = 'invoices/' + encodeURIComponent(invoice.id) + '/pay';
      result = await busy(control, t('working'), () => api('POST', path, {}, {'Idempotency-Key': uuid()}));
    } finally {
      acting = false;
    }
    if (!result) return;
    if (result.status === 401) {
      location.replace(page('login/'));
      return;
    }
    const answer = result.ok ? result.data || {} : null;
    if (answer && answer.invoice) {
      paid(answer.invoice, answer.subscription);
      return;
    }
    if (answer && safeUrl(answer.url)) {
      location.assign(answer.url);
      return;
    }
    // Refused: an invoice paid, voided or changed meanwhile shows as it is now, with why it cannot be paid.
    if (result.status === 404 || result.status === 409) await load();
    $('alert').textContent = answer ? t('failed') : sentence(result, 'invoice_not_payable');
    if (!control.isConnected) focusInvoice(invoice.id);
  };

  if ($('more-invoices')) $('more-invoices').addEventListener('click', () => busy($('more-invoices'), t('loading_more'), moreInvoices));

  $('retry').addEventListener('click', async () => {
    await busy($('retry'), t('working'), load);
    if ($('failure').hidden) $('title').focus();
  });

  $('sign-out').addEventListener('click', async () => {
    const result = await busy($('sign-out'), t('signing_out'), () => api('POST', 'logout', {}));
    if (!result) return;
    if (result.ok || result.status === 401) {
      location.assign(page('login/?signed_out=1'));
      return;
    }
    $('alert').textContent = problem(result);
  });

  /* The dialogs come when one is about to open, as the pointer comes over or focus comes to a button of
     the sections: their markup in the page's language with the text only they say (a file the build
     wrote, data-dialogs), then their code (data-dialog-code), which sets `runs`. The page neither loads,
     evaluates nor lays them out before it shows, and most visits open none. Markup comes as a tree of
     [tag, attributes, ...children] made into elements here: the page's Trusted Types policy lets no HTML
     be parsed from a string. */
  const runs = {};
  const build = (node) => {
    if (typeof node === 'string') return node;
    const [tag, attributes, ...children] = node;
    const made = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
    (tag === 'template' ? made.content : made).append(...children.map(build));
    return made;
  };
  /* `make` run once; again after it failed (offline), so that a later press tries anew. */
  const once = (make) => {
    let made = null;
    return () => made || (made = make().catch((error) => {
      made = null;
      throw error;
    }));
  };
  const markup = once(async () => {
    const {dialogs, dialogCode} = $('content').dataset;
    // The code is fetched meanwhile, for the import once the markup is in place.
    const preload = document.createElement('link');
    preload.rel = 'modulepreload';
    preload.href = dialogCode;
    document.head.append(preload);
    const response = await fetch(dialogs);
    if (!response.ok) throw new Error(response.status);
    const file = await response.json();
    learnText(file.strings);
    document.body.append(...file.markup.map(build));
  });
  const prepare = once(async () => {
    await markup();
    await import($('content').dataset.dialogCode);
  });
  const warm = () => prepare().catch(() => {});
  for (const type of ['pointerover', 'focusin']) {
    $('content').addEventListener(type, (event) => {
      if (event.target.closest('[data-action]')) warm();
    });
  }
  /* What a dialog's button runs: the dialog's own run() once its code is here. Until then the button
     says to wait; a failure to fetch it is said in the page's alert. */
  const later = (label) => async (...args) => {
    const button = args[2];
    try {
      await (button ? busy(button, t('working'), prepare) : prepare());
    } catch (error) {
      $('alert').textContent = t('network');
      return false;
    }
    return runs[label](...args);
  };

  /* What the page says when it first shows. Scripts loaded after this one may set its steps: before(),
     a sign-in the address carries, resolving to false when the page shows a failure instead; arrive(),
     what the address asks (the return from a payment processor's page), resolving to [status, alert, focus?],
     the message to announce, the refusal to show and what to focus once the page is there; ready(data,
     status, alert), once the page shows them. */
  const steps = {before: async () => true, arrive: async () => ['', ''], ready: () => {}};
  /* A portal link (#session=...) or a flow under way brings the flows' own script, which sets the steps. */
  const flowing = () => {
    try {
      return /(^#|&)session=/.test(location.hash) || sessionStorage.getItem('porch.flow') !== null;
    } catch (error) {
      return false;
    }
  };
  const first = async () => {
    // import() and not a <script>: the page's Trusted Types policy lets no script's src be set.
    if (flowing()) await import($('content').dataset.flows).catch(() => {});
    if (!(await steps.before())) return;
    const [message, refusal, focus] = await steps.arrive();
    await load(message, refusal);
    if (!loaded) return;
    if (focus) focus();
    steps.ready(current, message, refusal);
  };

  window.Porch.portal = Object.freeze({actions, allows, rendered, reload: load, priceName, perInterval,
    methodName: methods.name, learn, named: (id) => names[id] || '', steps, later, runs, subscriptionName});
  /* Scripts loaded after this one register their actions before the data arrives. */
  document.addEventListener('DOMContentLoaded', first);
})();
