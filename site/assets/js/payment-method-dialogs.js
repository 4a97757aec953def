/* Removing a payment method, after asking: its button is payment-methods.js's. */
(() => {
  'use strict';

  const {t, busy} = window.Porch;
  const {open, clearErrors} = window.Porch.dialogs;
  const {runs, methodName} = window.Porch.portal;
  const $ = (id) => document.getElementById(id);

  let removing = null;
  runs.remove = (method, data, button) => {
    $('remove-text').textContent = t('remove_text', {card: methodName(method)});
    removing = {session: open($('remove-dialog'), button), method};
    return removing.session.closed;
  };
  $('remove-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const {session, method} = removing;
    clearErrors($('remove-form'));
    const button = $('remove-form').querySelector('[type="submit"]');
    const result = await busy(button, t('working'), () => session.send('DELETE', 'payment_methods/' + encodeURIComponent(method.id)));
    if (!result) return;
    if (result.ok) session.finish(t('removed', {card: methodName(method)}));
    else session.refuse($('remove-form'), result);
  });
})();
