/* The complaint form (templates/disputes/complaint_form.html); the form works without it.
 * - Each evidence input keeps every file picked or dropped (several rounds), with a preview
 *   and a remove button; a file above the policy's size or not an image/PDF is refused here,
 *   next to its input, before anything is sent (the server checks contents again).
 * - The 三证 checklist ticks as files are added or removed, and the fast-track box says
 *   whether the claim qualifies so far (amount within the threshold, three proofs present).
 * Messages come from data attributes the template wrote, so they are already translated. */
(function () {
  "use strict";

  var form = document.querySelector("form.cf-form");
  if (!form) return;
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 0;
  var threshold = parseFloat(form.getAttribute("data-threshold")) || 0;
  var canStore = typeof DataTransfer === "function";
  var stores = new WeakMap();

  function isAccepted(file) {
    if (file.type) return file.type.indexOf("image/") === 0 || file.type === "application/pdf";
    return /\.(jpe?g|png|webp|pdf)$/i.test(file.name);
  }

  function sizeText(bytes) {
    if (bytes >= 1048576) return (bytes / 1048576).toFixed(1) + " MB";
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function showErrors(zone, messages) {
    zone.querySelectorAll("[data-client-error]").forEach(function (node) {
      node.remove();
    });
    messages.forEach(function (text) {
      var p = document.createElement("p");
      p.className = "field__error";
      p.setAttribute("role", "alert");
      p.setAttribute("data-client-error", "");
      p.textContent = text;
      zone.appendChild(p);
    });
    zone.classList.toggle("field--invalid", messages.length > 0 || !!zone.querySelector(".field__error"));
  }

  function renderPreviews(zone, input) {
    var list = zone.querySelector("[data-previews]");
    if (!list) return;
    list.textContent = "";
    Array.prototype.forEach.call(input.files, function (file, index) {
      var li = document.createElement("li");
      li.className = "cf-file cf-file--new";
      if (file.type.indexOf("image/") === 0) {
        var img = document.createElement("img");
        img.className = "cf-file__thumb";
        img.alt = "";
        // A data: URL, not blob: — the Content-Security-Policy allows images from data: only.
        var reader = new FileReader();
        reader.onload = function () {
          img.src = reader.result;
        };
        reader.readAsDataURL(file);
        li.appendChild(img);
      } else {
        var doc = document.createElement("span");
        doc.className = "cf-file__thumb cf-file__thumb--doc";
        doc.textContent = "PDF";
        li.appendChild(doc);
      }
      var name = document.createElement("span");
      name.className = "cf-file__name";
      name.textContent = file.name;
      li.appendChild(name);
      var size = document.createElement("span");
      size.className = "cf-file__size";
      size.textContent = sizeText(file.size);
      li.appendChild(size);
      if (canStore) {
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "button button--small button--ghost";
        remove.textContent = form.getAttribute("data-msg-remove");
        remove.addEventListener("click", function () {
          var kept = new DataTransfer();
          Array.prototype.forEach.call(input.files, function (f, i) {
            if (i !== index) kept.items.add(f);
          });
          stores.set(input, kept);
          input.files = kept.files;
          renderPreviews(zone, input);
          update();
        });
        li.appendChild(remove);
      }
      list.appendChild(li);
    });
  }

  function addFiles(zone, input, files) {
    var errors = [];
    var store = canStore ? stores.get(input) || new DataTransfer() : null;
    var accepted = [];
    Array.prototype.forEach.call(files, function (file) {
      if (!isAccepted(file)) {
        errors.push(file.name + ": " + form.getAttribute("data-msg-bad-type"));
      } else if (maxBytes && file.size > maxBytes) {
        errors.push(file.name + ": " + form.getAttribute("data-msg-too-big"));
      } else {
        accepted.push(file);
      }
    });
    if (store) {
      accepted.forEach(function (file) {
        store.items.add(file);
      });
      stores.set(input, store);
      input.files = store.files;
    } else if (errors.length) {
      input.value = ""; // without DataTransfer a refused file cannot be taken out alone
    }
    showErrors(zone, errors);
    renderPreviews(zone, input);
    update();
  }

  function present(kind) {
    var zone = form.querySelector('[data-drop][data-kind="' + kind + '"]');
    if (!zone) return false;
    var input = zone.querySelector("input[type=file]");
    if (input && input.files && input.files.length) return true;
    return Array.prototype.some.call(zone.querySelectorAll("[data-draft-kind]"), function (li) {
      var box = li.querySelector("[data-remove-draft]");
      return !(box && box.checked);
    });
  }

  function update() {
    var list = form.querySelector("[data-checklist]");
    var complete = true;
    if (list) {
      list.querySelectorAll("[data-check-kind]").forEach(function (item) {
        var done = present(item.getAttribute("data-check-kind"));
        complete = complete && done;
        item.classList.toggle("cf-checklist__item--done", done);
        item.querySelector(".cf-checklist__mark").textContent = done ? "✓" : "○";
        var state = item.querySelector("[data-check-state]");
        if (state) {
          state.textContent = list.getAttribute(done ? "data-attached-label" : "data-missing-label");
        }
      });
    }
    var fast = form.querySelector("[data-fast-state]");
    var amountInput = form.querySelector("input[name=claimed_amount]");
    if (fast && amountInput) {
      var amount = parseFloat(amountInput.value.replace(/[¥￥,\s]/g, ""));
      var yes = complete && !isNaN(amount) && amount > 0 && amount <= threshold;
      fast.hidden = false;
      fast.textContent = fast.getAttribute(yes ? "data-yes" : "data-no");
      fast.classList.toggle("cf-fast__state--yes", yes);
      form.querySelector("[data-fast-track]").classList.toggle("cf-fast--yes", yes);
    }
  }

  form.querySelectorAll("[data-drop]").forEach(function (zone) {
    var input = zone.querySelector("input[type=file]");
    if (!input) return;
    var hint = zone.querySelector("[data-drop-hint]");
    if (hint) hint.hidden = false;
    input.addEventListener("change", function () {
      // The picker replaces input.files; take the new pick and add it to what was kept.
      var picked = Array.prototype.slice.call(input.files);
      if (canStore) input.files = (stores.get(input) || new DataTransfer()).files;
      addFiles(zone, input, picked);
    });
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.add("cf-drop--over");
      });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.remove("cf-drop--over");
      });
    });
    zone.addEventListener("drop", function (event) {
      if (event.dataTransfer && event.dataTransfer.files.length) {
        addFiles(zone, input, event.dataTransfer.files);
      }
    });
  });

  form.addEventListener("change", function (event) {
    if (event.target.matches("[data-remove-draft]")) update();
  });
  form.addEventListener("input", function (event) {
    if (event.target.name === "claimed_amount") update();
  });
  update();
})();
