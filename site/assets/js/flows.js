/* A portal session from the merchant's app: its link carries a one-time token in the fragment
   (#session=...), which browsers never send to a server nor put in a Referer. The token leaves the
   address bar at once and is traded for a session; a flow it names (cancel, change plan, confirm a
   change, add a payment method) opens straight away, without the rest of the portal, and ends
   where its after_completion says. The flow is kept in sessionStorage, so that a reload or the
   return from a payment processor's page carries it on. */
(() => {
  'use strict';

  const {api, problem, safeUrl} = window.Porch;
  const {sentence} = window.Porch.refusals;
  const {actions, reload, steps} = window.Porch.portal;
  const $ = (id) => document.getElementById(id);
  const KEY = 'porch.flow';
  /* Where storage is denied (Chromium denies it to a frame on another site while it blocks third-party
     cookies) the flow is kept by this page alone, and a reload ends it. */
  let flowHere = null;
  const keep = (flow) => {
    flowHere = flow;
    try {
      if (flow) sessionStorage.setItem(KEY, JSON.stringify(flow));
      else sessionStorage.removeItem(KEY);
    } catch (error) {
      /* this page only */
    }
  };
  const kept = () => {
    try {
      return JSON.parse(sessionStorage.getItem(KEY));
    } catch (error) {
      return flowHere;
    }
  };

  const token = new URLSearchParams(location.hash.slice(1)).get('session');
  if (token !== null) history.replaceState(null, '', location.pathname + location.search);

  steps.before = async () => {
    if (token === null) return true;
    const result = await api('POST', 'login/session', {token, framed: window.top !== window});
    keep(result.ok ? result.data.flow : null);
    if (result.ok) return true;
    // Expired, used or altered: say so, and offer the sign-in by email in its place.
    $('status').textContent = '';
    $('failure-text').textContent = result.status === 401 ? sentence(result) : problem(result);
    $('retry').hidden = true;
    if ($('sign-in')) $('sign-in').hidden = false;
    $('failure').hidden = false;
    return false;
  };

  /* The flow is over: `message` says what was done, or is empty when the customer closed it; then the
     way back to the merchant's app, when there is one, else the portal as usual. */
  const end = async (flow, data, message) => {
    keep(null);
    const after = (message && flow.after_completion) || {};
    const to = message ? after.type === 'redirect' && after.redirect.return_url : data.return_url;
    if (safeUrl(to)) return location.assign(to);
    if (after.type === 'hosted_confirmation') {
      // The merchant's message is text, never markup; the link back is the page's own "Back to ...".
      $('flow-done-title').textContent = message;
      $('flow-done-text').textContent = after.hosted_confirmation.custom_message || '';
      $('flow-done').append($('back'));
      $('flow-done').hidden = false;
      $('content').hidden = true;
      return $('flow-done-title').focus();
    }
    await reload(message);
    return $('title').focus();
  };

  steps.ready = async (data, message, refusal) => {
    const flow = kept();
    if (!flow) return undefined;
    if (flow.type === 'payment_method_update') {
      // Back from the processor's page with a method added; else only the payment methods show, to add one.
      if (message && !refusal) return end(flow, data, message);
      const section = $('payment-methods').closest('section');
      for (const other of $('content').children) other.hidden = other !== section;
      const add = $('payment-methods-actions').lastChild;
      return add && add.focus();
    }
    $('content').hidden = true;
    // Its subscription's dialog; one that cannot take the action any more (changed meanwhile) ends the flow.
    const detail = flow[flow.type] || {};
    const sub = (data.subscriptions || []).find((each) => each.id === detail.subscription);
    const action = actions.subscription.find((each) => each.label === (flow.type === 'subscription_cancel' ? 'cancel' : 'change_plan'));
    if (!sub || !action || !action.shows(sub, data)) return end(flow, {}, '');
    // A change to confirm comes with its item's price and quantity, which the dialog takes as they are.
    const outcome = await action.run(sub, data, null, (detail.items || [])[0]);
    return end(flow, data, typeof outcome === 'string' ? outcome : '');
  };
})();
