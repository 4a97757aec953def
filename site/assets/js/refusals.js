/* What the portal says when the API refuses a change, in the page's language, and the keys that make a
   change happen once. The page itself needs these (paying an invoice, adding a payment method, a portal
   link), so they are not part of the dialogs' code that comes when one opens. */
(() => {
  'use strict';

  const {t, has, problem, errorText} = window.Porch;

  const uuid = () => {
    if (crypto.randomUUID) return crypto.randomUUID();
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  };

  /* The string to show for an API error code, from the server's one list of codes (backend/errors.py,
     PAGE_TEXT, written into the page's strings by the build): refusals the customer cannot fix in a
     field, and those naming the field to fix. */
  const REFUSALS = errorText.refusals;

  /* What to say of a field the API refused, in the page's language (the API's own sentence is
     English): by the error's code, else by the field's name, with the API's example of a value
     the field takes ("such as 10117") where it gives one. */
  const FIELD_CODES = errorText.fields;
  const FIELD_NAMES = {
    postal_code: 'fix_postal_code', state: 'fix_state', country: 'fix_country', line1: 'fix_line1', city: 'fix_city',
    name: 'fix_name', phone: 'fix_phone', type: 'fix_tax_type',
  };
  const fieldText = (result) => {
    const name = result.param.replace(/\[\d+\]/g, '').split('.').pop();
    const byName = result.code === 'invalid_tax_id' && name === 'value' ? 'fix_tax_id' : FIELD_NAMES[name];
    const key = [FIELD_CODES[result.code], byName].find((found) => found && has(found)) || 'fix_field';
    return result.example && has(key + '_example') ? t(key + '_example', {example: result.example}) : t(key);
  };

  /* `stale`: what to say of a 404 or 409 without a code of its own, the thing acted on having changed or gone. */
  const sentence = (result, stale = 'conflict') => {
    if (REFUSALS[result.code]) return t(REFUSALS[result.code]);
    if (result.status === 403) return t('unavailable');
    if (result.status === 404 || result.status === 409) return t(stale);
    if (result.status === 400 && result.param) return fieldText(result);
    return problem(result);
  };

  window.Porch.refusals = Object.freeze({sentence, fieldText, uuid});
})();
