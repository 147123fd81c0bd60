/* Flask-Admin's inline handlers, bound from the data-* attributes of our overrides under templates/admin/. */
(function () {
  'use strict';
  document.addEventListener('click', function (event) {
    const target = event.target;
    if (!(target instanceof Element)) return;
    // The CSP refuses javascript: URLs (and reports each click); the handlers below and Flask-Admin's do the work.
    if (target.closest('a[href^="javascript:"]')) event.preventDefault();
    const action = target.closest('a[data-action]');
    if (action) window.modelActions.execute(action.dataset.action);
    const add = target.closest('a[data-inline-add]');
    if (add) window.faForm.addInlineField(add, add.dataset.inlineAdd);
  });
})();
