/* Small enhancements; every page works without them.
 * - Copy buttons ([data-copy] = CSS selector of the text to copy): shown only when JS runs.
 * - Countdowns ([data-countdown]): the bar and an hh:mm:ss clock keep moving.
 * Labels come from data attributes written by the templates, so they are already translated.
 * Event delegation on document, so parts swapped in by htmx work without re-binding. */
(function () {
  "use strict";

  function showCopyButtons(root) {
    var canCopy = !!(navigator.clipboard || document.queryCommandSupported);
    if (!canCopy) return;
    root.querySelectorAll("[data-copy][hidden]").forEach(function (button) {
      button.hidden = false;
    });
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try {
      document.execCommand("copy");
    } finally {
      document.body.removeChild(area);
    }
    return Promise.resolve();
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return fallbackCopy(text);
      });
    }
    return fallbackCopy(text);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var nodes = document.querySelectorAll(button.getAttribute("data-copy"));
    var text = Array.prototype.map
      .call(nodes, function (node) {
        return node.textContent.trim();
      })
      .join("\n");
    if (!text) return;
    copyText(text).then(function () {
      var original = button.getAttribute("data-label") || button.textContent;
      button.setAttribute("data-label", original);
      button.textContent = button.getAttribute("data-copied-label") || original;
      button.setAttribute("data-copied", "");
      window.setTimeout(function () {
        button.textContent = original;
        button.removeAttribute("data-copied");
      }, 2000);
    });
  });

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function tickCountdowns() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (box) {
      var due = Date.parse(box.getAttribute("data-due"));
      if (isNaN(due)) return;
      var left = Math.max(0, Math.floor((due - now) / 1000));
      var bar = box.querySelector("progress");
      if (bar) bar.value = left;
      var clock = box.querySelector("[data-countdown-clock]");
      if (clock) {
        var h = Math.floor(left / 3600);
        var m = Math.floor((left % 3600) / 60);
        clock.textContent = left > 0 ? "(" + h + ":" + pad(m) + ":" + pad(left % 60) + ")" : "";
      }
      if (left === 0) box.classList.add("countdown--overdue");
      // Thresholds (the merchant's inbox): amber, then red, when that few seconds are left.
      var amber = parseInt(box.getAttribute("data-amber") || "0", 10);
      var red = parseInt(box.getAttribute("data-red") || "0", 10);
      var isRed = red > 0 && left > 0 && left < red;
      box.classList.toggle("countdown--red", isRed);
      box.classList.toggle("countdown--amber", !isRed && amber > 0 && left > 0 && left < amber);
    });
  }

  function init(root) {
    showCopyButtons(root);
    tickCountdowns();
  }

  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    if (document.querySelector("[data-countdown]")) window.setInterval(tickCountdowns, 1000);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    init(event.target);
  });
})();
