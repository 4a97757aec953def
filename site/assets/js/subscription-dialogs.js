/* Subscriptions' dialogs: change the plan or quantity (with the price of the change before confirming),
   cancel (why, then the retention offer, then the end date), and undo a cancellation. Their buttons are
   subscriptions.js's; this comes with the dialogs' code and sets what the buttons run. */
(() => {
  'use strict';

  const {t, plural, el, api, money, percent, date, busy} = window.Porch;
  const {open, clearErrors, fieldError, focusIn, reveal} = window.Porch.dialogs;
  const {runs, allows, perInterval, learn, named, subscriptionName: plan} = window.Porch.portal;
  const $ = (id) => document.getElementById(id);

  const items = (sub) => (sub.items && sub.items.data) || [];
  const path = (sub, action) => 'subscriptions/' + encodeURIComponent(sub.id) + '/' + action;
  const submitter = (form) => form.querySelector('[type="submit"]');

  /* Change the plan or the quantity, with the price of the change shown before confirming. */
  if ($('plan-dialog')) {
    const form = $('plan-form');
    const quantity = $('plan-quantity');
    const box = $('plan-preview');
    let state = null;
    let timer = 0;

    const chosen = () => {
      const input = form.querySelector('input[name="price"]:checked');
      if (!input) return null;
      const entry = state.plans.find((p) => p.prices.some((price) => price.id === input.value));
      return {entry, price: entry.prices.find((price) => price.id === input.value)};
    };
    const adjustable = (entry) => Boolean(entry && entry.adjustable_quantity && entry.adjustable_quantity.enabled);

    /* The body for preview and update: what changes. {error} when the quantity is not a number. */
    const request = () => {
      const choice = chosen();
      if (!choice) return null;
      const body = {};
      // Choosing the current plan while a change is scheduled drops that change.
      if (choice.price.id !== state.current.price || state.sub.schedule) body.price = choice.price.id;
      if (adjustable(choice.entry)) {
        const text = quantity.value.trim();
        if (!/^\d+$/.test(text)) return {error: t('whole_number')};
        const count = parseInt(text, 10);
        if (count !== state.current.quantity || body.price) body.quantity = count;
      }
      return body;
    };

    const name = (choice, count) => {
      const named = choice.price.nickname || choice.entry.product.name;
      return adjustable(choice.entry) && count > 1 ? t('quantity_of', {quantity: count, plan: named}) : named;
    };

    const showQuantity = () => {
      const choice = chosen();
      const on = Boolean(choice) && adjustable(choice.entry);
      $('plan-quantity-field').hidden = !on;
      if (!on) return;
      const {minimum, maximum} = choice.entry.adjustable_quantity;
      quantity.min = minimum;
      quantity.max = maximum;
      $('plan-quantity-help').textContent = t('quantity_range', {min: minimum, max: maximum});
      if (!quantity.value) {
        const same = choice.entry.product.id === state.product;
        quantity.value = Math.min(maximum, Math.max(minimum, same ? state.current.quantity : minimum));
      }
    };

    const say = (lines) => {
      box.replaceChildren(...lines);
      box.hidden = !lines.length;
    };

    /* A line of the preview in the page's language, from its parts (the API's description is English). */
    const lineText = (line) => {
      const name = named(line.price) || line.price;
      const plan = line.quantity > 1 ? t('quantity_of', {quantity: line.quantity, plan: name}) : name;
      if (!line.proration) return t('line_from', {plan, date: date(line.period.start)});
      return t(line.amount < 0 ? 'line_unused' : 'line_remaining', {plan, date: date(line.period.start)});
    };

    const previewed = (answer) => {
      const lines = [];
      if (answer.effective_at) {
        lines.push(el('p', 'preview-total', t('changes_on', {date: date(answer.effective_at)})));
      } else if (answer.amount_due > 0) {
        lines.push(el('p', 'preview-total', t('pay_now', {amount: money(answer.amount_due, answer.currency)})));
      } else {
        lines.push(el('p', 'preview-total', t('no_charge')));
      }
      if (!answer.effective_at && (answer.lines || []).length) {
        if (!answer.amount_due) lines.push(el('p', 'after', t('next_invoice')));
        const list = el('ul', 'preview-lines');
        for (const line of answer.lines) {
          const li = el('li');
          li.append(el('span', null, lineText(line)), el('span', null, money(line.amount, answer.currency)));
          list.append(li);
        }
        lines.push(list);
      }
      return lines;
    };

    /* Ask the server what the current choice costs; a newer choice wins over a slower answer. */
    const refresh = async () => {
      const ticket = ++state.ticket;
      clearErrors(form);
      const body = request();
      if (!body) return say([]);
      if (body.error) {
        fieldError(quantity, body.error);
        return say([]);
      }
      if (!Object.keys(body).length) return say([el('p', null, t('same_plan'))]);
      say([el('p', 'muted', t('pricing'))]);
      const result = await api('POST', path(state.sub, 'preview'), body);
      if (ticket !== state.ticket) return undefined;
      if (!result.ok) {
        say([]);
        state.session.refuse(form, result);
        return undefined;
      }
      return say(previewed(result.data));
    };

    const choices = (plans) => {
      const groups = plans.map((entry) => {
        const group = el('div', 'choice-group');
        group.append(el('h3', null, entry.product.name));
        if (entry.product.description) group.append(el('p', 'muted', entry.product.description));
        const list = el('div', 'choices');
        for (const price of entry.prices) {
          const label = el('label', 'choice');
          const input = el('input');
          input.type = 'radio';
          input.name = 'price';
          input.value = price.id;
          input.checked = price.id === state.chosen.price;
          const text = el('span', 'choice-text');
          text.append(
            el('span', 'choice-name', price.nickname || entry.product.name),
            el('span', 'choice-price', perInterval(money(price.unit_amount, price.currency), price.recurring)),
          );
          if (price.id === state.current.price) text.append(el('span', 'choice-note', t('current_plan')));
          label.append(input, text);
          list.append(label);
        }
        group.append(list);
        return group;
      });
      $('plan-choices').replaceChildren(...groups);
    };

    /* `preset`: a {price, quantity} to confirm (a flow from the merchant's app), chosen with its cost shown. */
    const run = async (sub, data, button, preset) => {
      const item = items(sub)[0];
      const product = item.price.product || {};
      const current = {price: item.price.id, quantity: item.quantity || 1};
      state = {sub, plans: [], ticket: 0, product: product.id, current, chosen: preset || current};
      $('plan-choices').replaceChildren();
      $('plan-loading').hidden = false;
      $('plan-quantity-field').hidden = true;
      quantity.value = '';
      say([]);
      const session = open($('plan-dialog'), button);
      state.session = session;
      const result = await api('GET', 'plans');
      if (state.session !== session) return session.closed;
      $('plan-loading').hidden = true;
      if (!result.ok || !result.data) {
        session.refuse(form, result);
        return session.closed;
      }
      state.plans = result.data.plans || [];
      learn(state.plans);
      choices(state.plans);
      if (preset && preset.quantity) quantity.value = preset.quantity;
      showQuantity();
      const checked = form.querySelector('input[name="price"]:checked');
      if (preset) {
        refresh();
        $('plan-confirm').focus();
      } else if (checked && document.activeElement === $('plan-title')) checked.focus();
      return session.closed;
    };

    form.addEventListener('change', (event) => {
      if (event.target.name !== 'price') return;
      showQuantity();
      refresh();
    });
    quantity.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 350);
    });

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearTimeout(timer);
      const {session, sub} = state;
      clearErrors(form);
      const body = request();
      const alert = form.querySelector('.form-error');
      if (!body) {
        alert.textContent = t('choose_plan');
        return;
      }
      if (body.error) {
        reveal(fieldError(quantity, body.error));
        return;
      }
      if (!Object.keys(body).length) {
        alert.textContent = t('same_plan');
        return;
      }
      const result = await busy(submitter(form), t('working'), () => session.send('POST', path(sub, 'update'), body));
      if (!result) return;
      if (!result.ok) {
        session.refuse(form, result);
        return;
      }
      const choice = chosen();
      const named = name(choice, body.quantity || state.current.quantity);
      const schedule = (result.data.subscription || {}).schedule;
      session.finish(schedule && schedule.effective_at
        ? t('scheduled', {plan: named, date: date(schedule.effective_at)})
        : t('switched', {plan: named}));
    });

    runs.change_plan = run;
  }

  /* Cancel: why -> the offer -> confirm. */
  if ($('cancel-dialog')) {
    let state = null;
    const STEPS = ['cancel-reason', 'cancel-offer', 'cancel-confirm'];

    const step = (id) => {
      STEPS.forEach((name) => {
        $(name).hidden = name !== id;
      });
      $('cancel-dialog').setAttribute('aria-labelledby', id + '-title');
      focusIn($(id));
    };

    const reasons = (options) => {
      $('cancel-reasons').replaceChildren(...options.map((option) => {
        const label = el('label', 'choice');
        const input = el('input');
        input.type = 'radio';
        input.name = 'reason';
        input.value = option;
        label.append(input, el('span', 'choice-text', t('reason_' + option)));
        return label;
      }));
    };

    const run = (sub, data, button) => {
      const feature = data.features.subscription_cancel;
      const asked = feature.cancellation_reason || {};
      const options = (asked.enabled && asked.options) || [];
      const retention = feature.retention || {};
      const offer = retention.enabled && allows(sub, 'retention') ? retention : null;
      reasons(options);
      $('cancel-comment').value = '';
      if (offer) $('cancel-offer-text').textContent = plural('offer', offer.duration_in_months, {percent: percent(offer.percent_off)});
      const end = sub.cancel_at || sub.current_period_end;
      // A paused subscription has no running period to wait for: the server ends it at once (backend/availability.py).
      $('cancel-confirm-text').textContent = feature.mode === 'immediately' || sub.status === 'paused' || !end
        ? t('cancel_now', {plan: plan(sub)})
        : t('cancel_at_end', {plan: plan(sub), date: date(end)});
      const first = options.length ? 'cancel-reason' : offer ? 'cancel-offer' : 'cancel-confirm';
      STEPS.forEach((name) => {
        $(name).hidden = name !== first;
      });
      $('cancel-dialog').setAttribute('aria-labelledby', first + '-title');
      state = {session: open($('cancel-dialog'), button), sub, offer};
      return state.session.closed;
    };

    $('cancel-reason').addEventListener('submit', (event) => {
      event.preventDefault();
      clearErrors($('cancel-reason'));
      step(state.offer ? 'cancel-offer' : 'cancel-confirm');
    });

    $('cancel-decline').addEventListener('click', () => step('cancel-confirm'));

    $('cancel-offer').addEventListener('submit', async (event) => {
      event.preventDefault();
      const {session, sub, offer} = state;
      clearErrors($('cancel-offer'));
      const result = await busy(submitter($('cancel-offer')), t('working'), () => session.send('POST', path(sub, 'retention')));
      if (!result) return;
      if (result.ok) session.finish(t('offer_accepted', {percent: percent(offer.percent_off)}));
      else session.refuse($('cancel-offer'), result);
    });

    $('cancel-confirm').addEventListener('submit', async (event) => {
      event.preventDefault();
      const {session, sub} = state;
      clearErrors($('cancel-confirm'));
      const body = {};
      const reason = $('cancel-reasons').querySelector('input:checked');
      if (reason) body.reason = reason.value;
      const comment = $('cancel-comment').value.trim();
      if (comment) body.comment = comment;
      const result = await busy(submitter($('cancel-confirm')), t('canceling'), () => session.send('POST', path(sub, 'cancel'), body));
      if (!result) return;
      if (!result.ok) {
        // A reason or comment the server refuses is shown where the customer wrote it.
        const back = result.status === 400 && ['reason', 'comment'].includes(result.param);
        if (back) step('cancel-reason');
        session.refuse($(back ? 'cancel-reason' : 'cancel-confirm'), result);
        return;
      }
      const after = result.data.subscription || {};
      const end = after.cancel_at || (after.cancel_at_period_end && after.current_period_end);
      let message = after.status !== 'canceled' && end ? t('canceled_at_end', {date: date(end)}) : t('canceled_now');
      const credit = result.data.credit;
      if (credit && credit.amount > 0) message = t('credit', {message, amount: money(credit.amount, credit.currency)});
      session.finish(message);
    });

    runs.cancel = run;
  }

  /* Undo a cancellation at the period's end. */
  if ($('resume-dialog')) {
    let state = null;
    runs.resume = (sub, data, button) => {
      const renews = sub.current_period_end;
      $('resume-text').textContent = renews
        ? t('resume_text', {plan: plan(sub), date: date(renews)})
        : t('resume_text_plain', {plan: plan(sub)});
      state = {session: open($('resume-dialog'), button), sub};
      return state.session.closed;
    };
    $('resume-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const {session, sub} = state;
      clearErrors($('resume-form'));
      const result = await busy(submitter($('resume-form')), t('working'), () => session.send('POST', path(sub, 'resume')));
      if (!result) return;
      if (!result.ok) {
        session.refuse($('resume-form'), result);
        return;
      }
      const renews = (result.data.subscription || {}).current_period_end;
      session.finish(renews ? t('resumed', {date: date(renews)}) : t('resumed_plain'));
    });
  }
})();
