// Small progressive enhancements. Everything here is optional: pages work without it.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="#element-id">. Hidden until JavaScript can use them.
  function enableCopyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      if (!navigator.clipboard) { return; }
      button.hidden = false;
      if (button.dataset.copyReady) { return; }
      button.dataset.copyReady = "1";
      button.addEventListener("click", function () {
        var source = document.querySelector(button.dataset.copy);
        if (!source) { return; }
        var text = "value" in source ? source.value : source.textContent;
        navigator.clipboard.writeText(text.trim()).then(function () {
          var status = document.getElementById(button.getAttribute("aria-controls") || "") || button;
          var before = button.textContent;
          button.textContent = "Copied";
          if (status !== button) { status.textContent = "Copied to the clipboard."; }
          setTimeout(function () { button.textContent = before; }, 2000);
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { enableCopyButtons(document); });
  document.addEventListener("htmx:load", function (event) { enableCopyButtons(event.target); });
})();
