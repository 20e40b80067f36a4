/* The frame of every page, improved when JavaScript runs (every page works without it):
 * - the error summary of a refused form takes the focus, also when HTMX swapped it in;
 * - a GET form (filters, searches) leaves its empty fields out of the address, whether it
 *   is sent by the browser or by HTMX, so that shared and bookmarked links stay short.
 * Loaded by base.html; the CSP allows no inline script and no eval.
 */
(function () {
  "use strict";

  function focusSummary(root) {
    var summary = (root || document).querySelector("[data-error-summary]");
    if (summary) summary.focus();
  }

  document.addEventListener("DOMContentLoaded", function () { focusSummary(document); });
  document.addEventListener("htmx:afterSettle", function (event) { focusSummary(event.target); });

  function isGetForm(form) {
    return form && form.tagName === "FORM" && (form.getAttribute("method") || "get").toLowerCase() === "get";
  }

  // A plain submission: empty fields are disabled for the time of the submission.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!isGetForm(form) || event.defaultPrevented) return;
    var emptied = [];
    Array.prototype.forEach.call(form.elements, function (element) {
      if (element.name && !element.disabled && element.value === "" &&
          (element.tagName === "INPUT" || element.tagName === "SELECT") &&
          element.type !== "checkbox" && element.type !== "radio") {
        element.disabled = true;
        emptied.push(element);
      }
    });
    // Given back at once: the page stays usable if the navigation is stopped.
    window.setTimeout(function () {
      emptied.forEach(function (element) { element.disabled = false; });
    }, 0);
  });

  // An HTMX GET sent from a GET form (active search, filters): same rule.
  document.addEventListener("htmx:configRequest", function (event) {
    var detail = event.detail;
    if (detail.verb !== "get" || !isGetForm(detail.elt.closest && detail.elt.closest("form"))) return;
    var parameters = detail.parameters;
    var names = typeof parameters.keys === "function" ? Array.from(parameters.keys()) : Object.keys(parameters);
    names.forEach(function (name) {
      var value = typeof parameters.get === "function" ? parameters.getAll(name) : parameters[name];
      var values = Array.isArray(value) ? value : [value];
      if (values.every(function (v) { return v === ""; })) {
        if (typeof parameters.delete === "function") parameters.delete(name);
        else delete parameters[name];
      }
    });
  });
})();
