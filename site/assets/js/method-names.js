/* How the portal names a payment method, for every type a Stripe customer can hold (Stripe's
   PaymentMethod reference): a brand as its owner writes it in every language, a kind of bank
   debit in the page's language, and the masked details the server passes on (backend/portal.py,
   PAYMENT_METHOD) to tell one method from another. Used by the portal's rows and by every
   dialog that names a method. */
(() => {
  'use strict';

  const {t, has, el} = window.Porch;

  /* Types whose name is a brand, the same in every language. The other types have their names in
     the page's strings, "method_<type>". */
  const BRANDS = {
    affirm: 'Affirm', afterpay_clearpay: 'Afterpay / Clearpay', alipay: 'Alipay', alma: 'Alma', amazon_pay: 'Amazon Pay',
    bancontact: 'Bancontact', billie: 'Billie', bizum: 'Bizum', blik: 'BLIK', boleto: 'Boleto', cashapp: 'Cash App Pay',
    eps: 'EPS', fpx: 'FPX', giropay: 'giropay', grabpay: 'GrabPay', ideal: 'iDEAL', kakao_pay: 'Kakao Pay', klarna: 'Klarna',
    link: 'Link', mb_way: 'MB WAY', mobilepay: 'MobilePay', multibanco: 'Multibanco', naver_pay: 'Naver Pay', oxxo: 'OXXO',
    p24: 'Przelewy24', payco: 'PAYCO', paynow: 'PayNow', paypal: 'PayPal', paypay: 'PayPay', payto: 'PayTo', pix: 'Pix',
    promptpay: 'PromptPay', revolut_pay: 'Revolut Pay', samsung_pay: 'Samsung Pay', satispay: 'Satispay',
    scalapay: 'Scalapay', sequra: 'seQura', sofort: 'Sofort', sunbit: 'Sunbit', swish: 'Swish', twint: 'TWINT', upi: 'UPI',
    wechat_pay: 'WeChat Pay', zip: 'Zip',
  };
  /* Card networks, by `brand` and by `display_brand` (the customer's choice on a card with two networks). */
  const NETWORKS = {
    amex: 'American Express', american_express: 'American Express', cartes_bancaires: 'Cartes Bancaires',
    diners: 'Diners Club', diners_club: 'Diners Club', discover: 'Discover', eftpos_au: 'eftpos', eftpos_australia: 'eftpos',
    interac: 'Interac', jcb: 'JCB', link: 'Link', mastercard: 'Mastercard', unionpay: 'UnionPay', union_pay: 'UnionPay', visa: 'Visa',
  };
  const WALLETS = {
    amex_express_checkout: 'Amex Express Checkout', apple_pay: 'Apple Pay', google_pay: 'Google Pay', link: 'Link',
    masterpass: 'Masterpass', samsung_pay: 'Samsung Pay', visa_checkout: 'Visa Checkout',
  };
  /* Types a customer knows as a card: a network, the last four digits, an expiry date. */
  const CARDS = ['card', 'card_present', 'interac_present'];

  /* An object's id, whether the data names it by id or gives the whole object. */
  const idOf = (ref) => (ref && typeof ref === 'object' ? ref.id : ref) || null;
  const detailsOf = (method) => (method && method[method.type]) || {};
  const cardOf = (method) => (method && CARDS.includes(method.type) && method[method.type]) || null;

  /* "SEPA Direct Debit", "PayPal"; a type this page does not know yet is a "Payment method", never its code. */
  const typeName = (method) => {
    const key = 'method_' + method.type;
    return has(key) ? t(key) : BRANDS[method.type] || t('method_other');
  };

  /* What the customer reads first: the card's network, the bank's name, or the method's name. */
  const label = (method) => {
    const details = detailsOf(method);
    const card = cardOf(method);
    if (card) {
      return NETWORKS[card.display_brand] || NETWORKS[card.brand] || (method.type === 'interac_present' ? 'Interac' : t('method_card'));
    }
    if (method.type === 'custom') return details.display_name || t('method_other');
    return details.bank_name || typeName(method);
  };

  /* The account a wallet or a payment app signs in with: an email, a $cashtag, a UPI address. */
  const account = (method) => {
    const details = detailsOf(method);
    return details.email || details.payer_email || details.cashtag || details.vpa || '';
  };

  /* As sentences and screen readers say it: "Visa ending in 4242", "SEPA Direct Debit, account ending
     in 3000", "PayPal: jenny@example.com". A bank account has its own sentence, so that languages
     whose words agree with "card" can say "account". */
  const name = (method) => {
    const {last4} = detailsOf(method);
    if (last4 && (cardOf(method) || method.type === 'kr_card')) return t('card', {brand: label(method), last4});
    if (last4) return t('account_ending', {name: label(method), last4});
    return account(method) ? t('labelled', {label: label(method), value: account(method)}) : label(method);
  };

  /* The name as a row shows it, "Visa •••• 4242" to the eye and the sentence to a screen reader,
     isolated so that a Latin name and its digits keep their order on a right-to-left page. */
  const shown = (method) => {
    const {last4} = detailsOf(method);
    const node = el('bdi', 'method-name');
    if (!last4) {
      node.textContent = label(method);
      return node;
    }
    const seen = el('span', null, label(method) + ' •••• ' + last4);
    seen.setAttribute('aria-hidden', 'true');
    node.append(seen, el('span', 'visually-hidden', name(method)));
    return node;
  };

  /* The other things that tell this method apart, each a short text: the kind of account under a
     bank's name, the bank's code, the account's email or handle, the wallet a card is kept in. */
  const facts = (method) => {
    const details = detailsOf(method);
    const card = cardOf(method);
    const wallet = card && card.wallet && card.wallet.type;
    return [
      details.bank_name && typeName(method),
      details.bank_code && t('bank_code', {code: details.bank_code}),
      details.sort_code && t('sort_code', {code: details.sort_code}),
      details.bsb_number && t('bsb', {code: details.bsb_number}),
      account(method),
      wallet && (WALLETS[wallet] || ''),
    ].filter(Boolean);
  };

  window.Porch.methods = Object.freeze({idOf, cardOf, name, shown, facts});
})();
