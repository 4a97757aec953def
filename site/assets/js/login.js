/* The sign-in page: email address, then the 6-digit code, then the portal.
   The challenge lives only in this closure: never in storage, cookies or the URL. */
(() => {
  'use strict';

  const {lang, page, t, fill, el, api, problem, busy} = window.Porch;
  const $ = (id) => document.getElementById(id);
  const status = $('status');
  const emailInput = $('email');
  const codeInput = $('code');
  const emailError = $('email-error');
  const codeError = $('code-error');
  let challenge = null;
  let email = '';

  const say = (element, text) => {
    element.textContent = text || '';
  };

  const showStep = (name) => {
    for (const step of ['email', 'code', 'new-tab']) $('step-' + step).hidden = name !== step;
  };
  /* In a frame (a merchant's page on another site shows this one) the session needs the partitioned
     cookie, the only kind a browser keeps there; some browsers refuse even that. */
  const framed = window.top !== window;

  /* The link may carry ?prefilled_email= (an unencoded "+" arrives as a space, which no
     address contains) and ?signed_out=1. Read them, then keep them out of the address bar. */
  const params = new URLSearchParams(location.search);
  const prefilled = (params.get('prefilled_email') || '').trim().replace(/ /g, '+');
  if (prefilled) emailInput.value = prefilled;
  if (params.get('signed_out') === '1') say(status, t('signed_out'));
  if (params.has('prefilled_email') || params.has('signed_out')) history.replaceState(null, '', location.pathname);

  /* Ask for a code for `email`. Resolves to null on success, else the message to show. */
  const requestCode = async () => {
    const result = await api('POST', 'login/code', {email, locale: lang});
    if (result.status === 202 && result.data && result.data.challenge) {
      challenge = result.data.challenge;
      return null;
    }
    if (result.code === 'login_disabled') return t('login_disabled');
    if (result.status === 400) return t('bad_email');
    return problem(result);
  };

  $('email-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    say(emailError, '');
    say(status, '');
    email = emailInput.value.trim();
    const failure = await busy(event.submitter || $('email-form').querySelector('button'), t('sending'), requestCode);
    if (failure === undefined) return;
    if (failure) {
      say(emailError, failure);
      emailInput.focus();
      return;
    }
    fill($('code-help'), 'code_sent', {email: el('strong', null, email)});
    codeInput.value = '';
    say(codeError, '');
    showStep('code');
    codeInput.focus();
  });

  /* Codes are often pasted as "123 456": keep the digits only (before maxlength cuts them). */
  const digits = (text) => String(text).replace(/\D/g, '').slice(0, 6);
  codeInput.addEventListener('paste', (event) => {
    const text = event.clipboardData && event.clipboardData.getData('text');
    if (!text) return;
    event.preventDefault();
    codeInput.value = digits(text);
  });
  codeInput.addEventListener('input', () => {
    const clean = digits(codeInput.value);
    if (clean !== codeInput.value) codeInput.value = clean;
  });

  $('code-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const code = digits(codeInput.value);
    codeInput.value = '';
    say(codeError, '');
    say(status, '');
    if (code.length !== 6) {
      say(codeError, t('code_format'));
      codeInput.focus();
      return;
    }
    const button = event.submitter || $('code-form').querySelector('button');
    const result = await busy(button, t('verifying'), () => api('POST', 'login/verify', {challenge, code, framed}));
    if (!result) return;
    /* Refused in the frame, the portal would answer 401 and send the customer back to this form:
       offer a new tab, where the cookie is first-party, instead. */
    if (result.ok && framed && (await api('GET', 'portal')).status === 401) {
      $('new-tab').href = page('login/?prefilled_email=' + encodeURIComponent(email));
      showStep('new-tab');
      $('new-tab').focus();
      return;
    }
    if (result.ok) {
      say(status, t('signed_in'));
      // A flow left unfinished by a portal session in this tab belongs to that session, not this one.
      // Where storage is denied (Chromium denies it to a frame on another site where third-party
      // cookies are blocked, partitioned or not) there is none to forget.
      try {
        sessionStorage.removeItem('porch.flow');
      } catch (error) {
        /* nothing stored */
      }
      location.assign(page('portal/'));
      return;
    }
    say(codeError, result.status === 401 ? t('bad_code') : problem(result));
    codeInput.focus();
  });

  $('resend').addEventListener('click', async () => {
    say(codeError, '');
    say(status, '');
    const failure = await busy($('resend'), t('sending'), requestCode);
    if (failure === undefined) return;
    if (failure) say(codeError, failure);
    else say(status, t('new_code_sent'));
    codeInput.value = '';
    codeInput.focus();
  });

  $('change-email').addEventListener('click', () => {
    challenge = null;
    codeInput.value = '';
    say(codeError, '');
    say(status, '');
    showStep('email');
    emailInput.focus();
    emailInput.select();
  });
})();
