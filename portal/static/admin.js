/* Flask-Admin's inline handlers, bound from the data-* attributes of our overrides under templates/admin/, and the
   bridge that lets Flask-Admin's jQuery calls reach Bootstrap 5. */
(function () {
  'use strict';
  bridgeBootstrapPlugins();
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

  /* Flask-Admin's list script calls $(...).tooltip() as soon as it loads, but Bootstrap 5 attaches its jQuery
     plugins only at DOMContentLoaded (templates/admin/ledgerflow_base.html loads Bootstrap 5, not 4): until then,
     these stand-ins pass the calls to Bootstrap 5's classes, and Bootstrap replaces them with its own later. */
  function bridgeBootstrapPlugins() {
    const $ = window.jQuery;
    if (!$ || !window.bootstrap) return;
    ['Tooltip', 'Popover', 'Modal', 'Dropdown'].forEach(function (name) {
      const plugin = name.toLowerCase();
      if ($.fn[plugin]) return;
      $.fn[plugin] = function (options) {
        return this.each(function () {
          const instance = window.bootstrap[name].getOrCreateInstance(this, typeof options === 'object' ? options : {});
          if (typeof options === 'string') instance[options]();
        });
      };
    });
  }
})();
