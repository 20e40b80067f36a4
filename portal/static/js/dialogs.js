/* The confirmation dialogs of irreversible actions (portal/confirmation.py): a
 * <dialog data-confirm-dialog> swapped by htmx into #confirmation is opened as a modal,
 * the focus moves into it (on « Annuler », the harmless choice); Escape or « Annuler »
 * close it, remove it and give the focus back to the button that asked.
 * Without this file (or without JavaScript) the confirmation is a page of its own.
 */
(function () {
  "use strict";

  var opener = null;

  document.addEventListener("htmx:beforeRequest", function (event) {
    opener = document.activeElement;
  });

  function close(dialog) {
    if (dialog.open) dialog.close();
  }

  function open(dialog) {
    if (dialog.dataset.ready) return;
    dialog.dataset.ready = "1";
    dialog.addEventListener("close", function () {
      dialog.remove();
      if (opener && document.contains(opener)) opener.focus();
    });
    dialog.querySelectorAll("[data-close-dialog]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        close(dialog);
      });
    });
    dialog.showModal();
    var cancel = dialog.querySelector("[data-close-dialog]");
    (cancel || dialog.querySelector("button")).focus();
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var root = event.detail && event.detail.target;
    if (!root) return;
    root.querySelectorAll("dialog[data-confirm-dialog]").forEach(open);
  });
})();
