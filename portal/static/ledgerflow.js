/* Behaviour shared by the portal and admin pages, bound from data-* attributes (the CSP allows no inline script). */
(function () {
  'use strict';
  // <form data-confirm="Question?">: submit only once the user agrees.
  document.addEventListener('submit', function (event) {
    const question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
  // <select data-autosubmit>: a filter that applies as soon as it is picked.
  document.addEventListener('change', function (event) {
    const field = event.target;
    if (field.matches && field.matches('select[data-autosubmit]') && field.form) field.form.requestSubmit();
  });
  labelStackedCells();

  /* <table class="table-stack">: on a phone each row is shown as a card (the CSS in templates/base.html); each
     cell gets its column's header text as data-label there, so the template need not repeat every header. */
  function labelStackedCells() {
    document.querySelectorAll('table.table-stack').forEach(function (table) {
      const headers = [];
      table.querySelectorAll('thead > tr:first-child > th').forEach(function (th) {
        for (let span = 0; span < th.colSpan; span++) headers.push(th.textContent.trim());
      });
      table.querySelectorAll('tbody > tr').forEach(function (row) {
        let column = 0;
        Array.from(row.cells).forEach(function (cell) {
          if (!cell.hasAttribute('data-label')) cell.dataset.label = headers[column] || '';
          column += cell.colSpan;
        });
      });
    });
  }
})();
