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

// "Send it from my email" follows what the referrer types: <a data-mailto-subject="#id"
// data-mailto-body="#id">. The link keeps its address and is rebuilt like helpers.mailto
// (UTF-8 percent-encoding, CRLF line breaks). Without JavaScript it carries the saved words.
(function () {
  "use strict";

  function encode(text) {
    // encodeURIComponent leaves !'()* alone; Python's quote(safe="") does not.
    return encodeURIComponent(text).replace(/[!'()*]/g, function (c) {
      return "%" + c.charCodeAt(0).toString(16).toUpperCase();
    });
  }

  function mailtoFor(link) {
    var address = (link.getAttribute("href") || "mailto:").split("?")[0];
    var subject = document.querySelector(link.dataset.mailtoSubject);
    var body = document.querySelector(link.dataset.mailtoBody);
    var fields = [];
    if (subject && "value" in subject && subject.value.trim()) {
      fields.push("subject=" + encode(subject.value.trim()));
    }
    if (body && "value" in body) {
      var text = body.value.replace(/\r\n?/g, "\n").trim();
      if (text) { fields.push("body=" + encode(text.split("\n").join("\r\n"))); }
    }
    return address + (fields.length ? "?" + fields.join("&") : "");
  }

  function followFields(root) {
    var scope = root.querySelectorAll ? root : document;
    var links = Array.prototype.slice.call(scope.querySelectorAll("a[data-mailto-body]"));
    if (root.matches && root.matches("a[data-mailto-body]")) { links.push(root); }
    links.forEach(function (link) {
      if (link.dataset.mailtoReady) { return; }
      link.dataset.mailtoReady = "1";
      [link.dataset.mailtoSubject, link.dataset.mailtoBody].forEach(function (selector) {
        var field = selector && document.querySelector(selector);
        if (!field || !("value" in field)) { return; }
        field.addEventListener("input", function () { link.href = mailtoFor(link); });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { followFields(document); });
  document.addEventListener("htmx:load", function (event) { followFields(event.target); });
})();
