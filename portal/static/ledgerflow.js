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
})();
