/* Subscriptions' buttons: change the plan or quantity, cancel, and undo a cancellation. What they
   run is in subscription-dialogs.js, which comes with the dialogs when one is about to open. */
(() => {
  'use strict';

  const {actions, allows, later, subscriptionName: name} = window.Porch.portal;

  actions.subscription.push(
    {feature: 'subscription_update', label: 'change_plan', run: later('change_plan'), name, shows: (sub) => allows(sub, 'update')},
    {feature: 'subscription_cancel', label: 'cancel', run: later('cancel'), name, shows: (sub) => allows(sub, 'cancel')},
    // Undoing a cancellation is never switched off: keeping a customer always is.
    {feature: null, label: 'resume', run: later('resume'), name, shows: (sub) => allows(sub, 'resume')},
  );
})();
