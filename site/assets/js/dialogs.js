/* Modal dialogs for the portal's actions, on the native <dialog>: showModal() moves focus in,
   Escape closes it, and focus goes back to the button that opened it. A refused change is
   shown next to the field the API names (aria-invalid, aria-describedby), or as a sentence.
   The first of the dialogs' code, which the portal imports when a dialog is about to open. */
(() => {
  'use strict';

  const {el, api, page} = window.Porch;
  const {sentence, fieldText, uuid} = window.Porch.refusals;

  const describedBy = (field, id, add) => {
    const ids = (field.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== id);
    if (add) ids.push(id);
    if (ids.length) field.setAttribute('aria-describedby', ids.join(' '));
    else field.removeAttribute('aria-describedby');
  };

  /* The field a form shows for an API `param` such as "address.postal_code" or "tax_ids[0].value". */
  const fieldFor = (root, param) =>
    [...root.querySelectorAll('[data-param]')].find((node) => node.dataset.param === param && !node.closest('[hidden]'));

  const clearError = (field) => {
    if (field.getAttribute('aria-invalid') !== 'true') return;
    field.removeAttribute('aria-invalid');
    describedBy(field, field.id + '-error', false);
    const note = document.getElementById(field.id + '-error');
    if (note) note.remove();
  };

  const clearErrors = (root) => {
    root.querySelectorAll('[aria-invalid="true"]').forEach(clearError);
    root.querySelectorAll('.form-error').forEach((node) => {
      node.textContent = '';
    });
  };

  /* Put `message` under `field`, tied to it; returns the field. */
  const fieldError = (field, message) => {
    clearError(field);
    const note = el('p', 'error field-error', message);
    note.id = field.id + '-error';
    field.after(note);
    field.setAttribute('aria-invalid', 'true');
    describedBy(field, note.id, true);
    return field;
  };

  /* Focus a field with an error and scroll so that its label and its message show, not only the box. */
  const reveal = (field) => {
    const target = field.matches('input, select, textarea') ? field : field.querySelector('input') || field;
    target.focus({preventScroll: true});
    (field.closest('.field') || field.parentElement).scrollIntoView({block: 'nearest'});
  };

  /* Focus the first shown element marked data-autofocus in `root`, else its shown heading. */
  const focusIn = (root) => {
    const shown = (selector) => [...root.querySelectorAll(selector)].find((node) => !node.closest('[hidden]'));
    const target = shown('[data-autofocus]') || shown('h2');
    if (target) target.focus();
  };

  /* Keep Tab and Shift+Tab inside an open dialog: a modal <dialog> makes the page behind it
     inert, but from its last control Tab would still leave for the browser's own toolbar. */
  const FOCUSABLE = 'a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])';
  const trapFocus = (event) => {
    if (event.key !== 'Tab') return;
    const dialog = event.currentTarget;
    const stops = [...dialog.querySelectorAll(FOCUSABLE)].filter(
      (node) => !node.disabled && !node.closest('[hidden]') && node.getClientRects().length > 0);
    if (!stops.length) return;
    const first = stops[0];
    const last = stops[stops.length - 1];
    const at = document.activeElement;
    if (event.shiftKey && (at === first || !stops.includes(at))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (at === last || !stops.includes(at))) {
      event.preventDefault();
      first.focus();
    }
  };

  /* Open `dialog` for one use. Resolves `closed` with what the page should do afterwards:
     a message to announce after reloading, true to reload quietly, false for nothing. */
  const open = (dialog, opener) => {
    let outcome = false;
    let last = null;
    clearErrors(dialog);
    const closed = new Promise((resolve) => {
      dialog.addEventListener('close', () => {
        dialog.removeEventListener('keydown', trapFocus);
        if (opener && opener.isConnected) opener.focus();
        resolve(outcome);
      }, {once: true});
    });
    dialog.addEventListener('keydown', trapFocus);
    dialog.showModal();
    focusIn(dialog);
    const session = {
      dialog,
      closed,
      /* Close, telling the page what happened. */
      finish(result) {
        outcome = result;
        dialog.close();
      },
      /* A change, sent with an Idempotency-Key made for this submission and reused when the very
         same request goes again (a retry after a lost answer), so nothing happens twice. */
      send(method, path, body = {}) {
        const request = method + ' ' + path + ' ' + JSON.stringify(body);
        if (!last || last.request !== request) last = {request, key: uuid()};
        return api(method, path, body, {'Idempotency-Key': last.key});
      },
      /* Show why a change was refused: next to its field when the form has it, else as a sentence. */
      refuse(form, result) {
        if (result.status === 401) {
          location.replace(page('login/'));
          return;
        }
        const field = result.status === 400 && result.param ? fieldFor(form, result.param) : null;
        if (field) {
          reveal(fieldError(field, fieldText(result)));
          return;
        }
        // The data shown is out of date: load it again when the dialog closes.
        if (result.status === 404 || result.status === 409) outcome = outcome || true;
        form.querySelector('.form-error').textContent = sentence(result);
      },
    };
    return session;
  };

  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('[data-close]');
    if (button) button.closest('dialog').close();
  });

  window.Porch.dialogs = Object.freeze({open, clearErrors, fieldError, focusIn, reveal});
})();
