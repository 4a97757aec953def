/* Payment methods: make one the default, remove one (after asking, in payment-method-dialogs.js, which
   comes with the dialogs), or go to the payment processor's page to add one. Card numbers never pass
   through Porch. */
(() => {
  'use strict';

  const {t, api, page, busy, safeUrl} = window.Porch;
  const {sentence, uuid} = window.Porch.refusals;
  const {actions, allows, later, methodName, steps} = window.Porch.portal;
  const $ = (id) => document.getElementById(id);
  const path = (method, action) => 'payment_methods/' + encodeURIComponent(method.id) + (action ? '/' + action : '');

  /* A change made straight from its button: one Idempotency-Key per press; a refusal is said in the page's alert. */
  const change = async (button, label, path, done) => {
    $('alert').textContent = '';
    const key = uuid();
    const result = await busy(button, label, () => api('POST', path, {}, {'Idempotency-Key': key}));
    if (!result) return false;
    if (result.ok) return done(result.data);
    if (result.status === 401) {
      location.replace(page('login/'));
      return false;
    }
    $('alert').textContent = sentence(result);
    return result.status === 404 || result.status === 409;
  };

  actions.payment_method.push({
    feature: null, label: 'make_default', name: methodName,
    shows: (method) => allows(method, 'make_default'),
    run: (method, data, button) =>
      change(button, t('working'), path(method, 'default'), () => t('made_default', {card: methodName(method)})),
  });

  actions.payment_method.push({
    feature: null, label: 'remove', name: methodName, run: later('remove'),
    shows: (method) => allows(method, 'remove'),
  });

  /* Adding happens on the processor's page, which sends the customer back here. */
  actions.payment_methods.push({
    feature: 'payment_method_update', label: 'add_payment_method',
    shows: (methods, data) => Boolean(data.features.payment_method_update.can_add),
    run: (methods, data, button) => change(button, t('opening'), 'payment_methods/add', (answer) => {
      const url = safeUrl(answer && answer.url);
      if (url) location.assign(url);
      else $('alert').textContent = t('failed');
      return false;
    }),
  });

  /* Back from adding, the query leaves the address bar at once, so that a reload does not repeat it.
     The merchant's own page (add_url) returns to ?payment_method=added: the method shows once it is
     confirmed. Stripe Checkout returns to ?session_id=cs_...: the server fetches the method it saved,
     which shows at once. The session's id is the Idempotency-Key: the same return twice saves it once. */
  const params = new URLSearchParams(location.search);
  const session = params.get('session_id');
  const returned = params.get('payment_method') === 'added';
  if (session !== null || params.has('payment_method')) {
    params.delete('session_id');
    params.delete('payment_method');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  }
  steps.arrive = async () => {
    if (!session) return [returned ? t('payment_method_added') : '', ''];
    const result = await api('POST', 'payment_methods/added', {session}, {'Idempotency-Key': session});
    // Signed out meanwhile (401): nothing to say, the page's first load goes to the sign-in page.
    if (!result.ok) return ['', result.status === 401 ? '' : sentence(result, 'add_failed')];
    // The server names the methods it added; once shown, focus goes to the first.
    const {payment_methods: all = [], added = []} = result.data || {};
    const card = all.find((method) => added.includes(method.id));
    if (!card) return [t('payment_method_added'), ''];
    return [t('added', {card: methodName(card)}), '', () => $('payment-methods').querySelector(
      '[data-method="' + CSS.escape(card.id) + '"] [data-field="title"]').focus()];
  };
})();
