/* The button that edits the billing details; the editor (details-dialog.js) comes with the dialogs. */
(() => {
  'use strict';

  const {actions, later} = window.Porch.portal;

  actions.customer.push({
    feature: 'customer_update', label: 'edit_details', run: later('edit_details'),
    shows: (customer, data) => (data.features.customer_update.allowed_updates || []).length > 0,
  });
})();
