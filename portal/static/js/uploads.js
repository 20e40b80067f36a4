/* The upload form of the pieces (dossiers/piece_form.html), improved when JavaScript runs:
 * - files dropped on the zone join those chosen with the file input (drag and drop);
 * - the chosen files are listed, with a warning for a file above the size limit;
 * - a progress bar, fed by htmx's `htmx:xhr:progress` events while the form is sent;
 * - an envelope above the limits is stopped before it is sent, and a refused request
 *   (413, network failure) says so in French instead of failing silently;
 * - after an inline validation, the field's aria-invalid follows its message;
 * - a form sent back with errors takes the focus to its summary.
 * Without this file the form is a plain multipart form and works the same.
 * Loaded only on that page; the CSP allows no inline script and no eval.
 */
(function () {
  "use strict";

  var FORM = "[data-upload-form]";

  function uploadForm(node) {
    return node && node.matches && node.matches(FORM) ? node : null;
  }

  function sizeLabel(bytes) {
    if (bytes >= 1048576) return (bytes / 1048576).toFixed(1).replace(".", ",") + " Mo";
    if (bytes >= 1024) return Math.round(bytes / 1024) + " Ko";
    return bytes + " octets";
  }

  function fileInput(form) {
    return form.querySelector("input[type=file]");
  }

  function setStatus(form, text) {
    var status = form.querySelector("[data-upload-status]");
    if (status) status.textContent = text;
  }

  function showProgress(form, visible) {
    var bar = form.querySelector("[data-upload-progress]");
    if (!bar) return;
    bar.value = 0;
    bar.hidden = !visible;
  }

  function tooLarge(form) {
    var maxFile = Number(form.dataset.maxFile || 0);
    var files = Array.prototype.slice.call(fileInput(form).files || []);
    return files.filter(function (file) { return maxFile && file.size > maxFile; });
  }

  function listFiles(form) {
    var list = form.querySelector("[data-file-list]");
    if (!list) return;
    list.replaceChildren();
    var big = tooLarge(form);
    Array.prototype.forEach.call(fileInput(form).files || [], function (file) {
      var item = document.createElement("li");
      item.textContent = file.name + " (" + sizeLabel(file.size) + ")";
      if (big.indexOf(file) >= 0) {
        item.textContent += " : trop volumineux, il serait refusé";
        item.className = "field-error";
      }
      list.appendChild(item);
    });
  }

  function enhance(root) {
    root.querySelectorAll("[data-drop-hint]").forEach(function (hint) { hint.hidden = false; });
    root.querySelectorAll(FORM).forEach(listFiles);
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
    var summary = document.getElementById("piece-form-errors");
    if (summary) summary.focus();
  });

  // --- Drag and drop -------------------------------------------------------------------------

  function dropZone(event) {
    return event.target && event.target.closest ? event.target.closest("[data-drop-zone]") : null;
  }

  function carriesFiles(event) {
    return !!event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types || [], "Files") >= 0;
  }

  document.addEventListener("dragover", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault(); // a file dropped beside the zone must not replace the page
    var zone = dropZone(event);
    event.dataTransfer.dropEffect = zone ? "copy" : "none";
    if (zone) zone.classList.add("drag-over");
  });

  document.addEventListener("dragleave", function (event) {
    var zone = dropZone(event);
    if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove("drag-over");
  });

  document.addEventListener("drop", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    var zone = dropZone(event);
    if (!zone) return;
    zone.classList.remove("drag-over");
    var input = zone.querySelector("input[type=file]");
    var transfer = new DataTransfer();
    if (input.multiple) {
      Array.prototype.forEach.call(input.files || [], function (file) { transfer.items.add(file); });
    }
    var dropped = Array.prototype.slice.call(event.dataTransfer.files);
    (input.multiple ? dropped : dropped.slice(0, 1)).forEach(function (file) {
      transfer.items.add(file);
    });
    input.files = transfer.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches(FORM + " input[type=file]")) {
      listFiles(target.closest(FORM));
    }
  });

  // --- Sending, with a progress bar ------------------------------------------------------------

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = uploadForm(event.target); // the form itself, not a field's inline validation
    if (!form) return;
    var big = tooLarge(form);
    var total = Array.prototype.reduce.call(
      fileInput(form).files || [], function (sum, file) { return sum + file.size; }, 0);
    var maxRequest = Number(form.dataset.maxRequest || 0);
    var maxFiles = Number(form.dataset.maxFiles || 0);
    if (big.length || (maxRequest && total > maxRequest)) {
      event.preventDefault();
      setStatus(form, form.dataset.messageTooLarge);
      return;
    }
    if (maxFiles && (fileInput(form).files || []).length > maxFiles) {
      event.preventDefault();
      setStatus(form, form.dataset.messageTooMany);
      return;
    }
    showProgress(form, true);
    setStatus(form, "Envoi en cours…");
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = uploadForm(event.target);
    var detail = event.detail || {};
    if (!form || !detail.lengthComputable || !detail.total) return;
    var bar = form.querySelector("[data-upload-progress]");
    var percent = Math.round((detail.loaded / detail.total) * 100);
    // The upload's events come first, then the answer's: the bar never goes back.
    if (bar && percent > bar.value) bar.value = percent;
  });

  function failed(event) {
    var form = uploadForm(event.target);
    if (!form) return;
    showProgress(form, false);
    var status = event.detail && event.detail.xhr ? event.detail.xhr.status : 0;
    setStatus(form, status === 413 ? form.dataset.messageTooLarge : form.dataset.messageFailed);
  }

  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);

  // --- After a swap -----------------------------------------------------------------------------

  function syncInvalid(zone) {
    if (!zone || !zone.id || zone.id.slice(-7) !== "-erreur") return;
    var field = document.getElementById(zone.id.slice(0, -7));
    if (!field) return;
    if (zone.textContent.trim()) field.setAttribute("aria-invalid", "true");
    else field.removeAttribute("aria-invalid");
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var form = uploadForm(event.target);
    if (form) { // the form came back with its errors
      enhance(form.parentNode || document);
      var summary = form.querySelector("#piece-form-errors");
      if (summary) summary.focus();
      return;
    }
    syncInvalid(event.detail && event.detail.target);
  });

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    syncInvalid(event.detail && event.detail.target);
  });
})();
