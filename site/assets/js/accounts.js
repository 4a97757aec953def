/* The menu of accounts: when the signed-in email address has several customers, GET /api/portal
   lists them (data.accounts) and the customer may move the session to any of them. Choosing in the
   menu changes nothing by itself; the Switch button does, so moving through the options with the
   keyboard or a screen reader never reloads the page under the reader. */
(() => {
  'use strict';

  const {t, api, date, page, problem, busy} = window.Porch;
  const portal = window.Porch.portal;
  const form = document.getElementById('accounts');
  const select = document.getElementById('account');
  let current = null;
  let names = {};
  /* Tabs share the session cookie: after a switch in one, the others show the new customer at once,
     their dialogs closed, rather than offer changes on the old customer's page that would reach the new one. */
  const tabs = 'BroadcastChannel' in window ? new BroadcastChannel('porch-account') : null;

  const status = (code) => {
    const key = 'status_' + code;
    return t(key) === key ? String(code || '').replace(/_/g, ' ') : t(key);
  };

  /* "Jenny Rosen – Pro (Past due)": who, and each plan with its status, so an account that needs
     paying stands out before it is opened. */
  const label = (account) => {
    const plans = (account.subscriptions || []).map((sub) =>
      (sub.plan ? t('account_plan', {plan: sub.plan, status: status(sub.status)}) : status(sub.status)));
    return t('account_label', {name: names[account.id], plans: plans.length ? plans.join(', ') : t('account_no_plan')});
  };

  portal.rendered.push((data) => {
    const accounts = data.accounts || [];
    form.hidden = accounts.length < 2;
    current = data.customer && data.customer.id;
    names = {};
    for (const account of accounts) {
      names[account.id] = account.name || (account.created ? t('account_since', {date: date(account.created)}) : account.id);
    }
    /* The same <select> is refilled, not replaced, so focus stays where the customer left it. */
    select.replaceChildren(...accounts.map((account) => new Option(label(account), account.id, false, account.id === current)));
  });

  if (tabs) {
    tabs.addEventListener('message', (event) => {
      document.querySelectorAll('dialog[open]').forEach((dialog) => dialog.close());
      /* The name only: each tab says it in its own language. */
      portal.reload(t('account_switched', {name: String(event.data)}));
    });
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const id = select.value;
    if (!id || id === current) return;
    const button = form.querySelector('button[type="submit"]');
    const result = await busy(button, t('account_switching'), () =>
      api('POST', 'accounts/' + encodeURIComponent(id) + '/switch', {}));
    if (!result) return;
    if (result.status === 401) {
      location.replace(page('login/'));
      return;
    }
    if (result.ok) {
      if (tabs) tabs.postMessage(names[id]);
      await portal.reload(t('account_switched', {name: names[id]}));
      return;
    }
    /* A 404: the account no longer has this address. The list is out of date; show the new one. */
    await portal.reload();
    document.getElementById('alert').textContent = result.status === 404 ? t('unavailable') : problem(result);
  });
})();
