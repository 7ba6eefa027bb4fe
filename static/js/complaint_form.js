/* The complaint form (templates/disputes/complaint_form.html); the form works without it.
 * - Each evidence input keeps every file picked or dropped (several rounds), with a preview
 *   and a remove button; a file above the policy's size or not an image/PDF is refused here,
 *   next to its input, before anything is sent (the server checks contents again).
 * - A large photo (a phone's 9 MB JPEG) is scaled down here before it is kept: drawn on a
 *   canvas at most MAX_SIDE pixels on its longer side and kept as a JPEG, if that is smaller.
 *   Sending waits for scaling to finish; files that still add up to more than one sending
 *   may carry (data-max-request-bytes) are not sent: the form says so and keeps everything.
 *   Without canvas or DataTransfer nothing is scaled and the server answers instead, with the
 *   form and what was typed (disputes/views.py).
 * - The 三证 checklist ticks as files are added or removed, and the fast-track box names the
 *   proofs still missing. Whether the buyer may be fast-tracked at all is the server's answer,
 *   written into the page (disputes/views/filing.py); the script never promises a payment.
 * Messages come from data attributes the template wrote, so they are already translated. */
(function () {
  "use strict";

  var MAX_SIDE = 2560; // 2560×1920 is 4.9 MP: every word of a receipt or chat stays legible
  var SCALE_ABOVE = 1536 * 1024; // smaller files are sent as they are
  var JPEG_QUALITY = 0.85;
  var SCALABLE = ["image/jpeg", "image/png", "image/webp"];

  var form = document.querySelector("form.cf-form");
  if (!form) return;
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 0;
  var canStore = typeof DataTransfer === "function";
  var canScale =
    canStore && typeof createImageBitmap === "function" && !!document.createElement("canvas").toBlob;
  var maxRequestBytes = parseInt(form.getAttribute("data-max-request-bytes"), 10) || 0;
  var stores = new WeakMap();
  var scaling = 0; // files being scaled down now
  var submitWhenDone = false;

  /* A smaller JPEG of a large photo, or the file itself (never larger, never on failure). */
  function scaled(file) {
    if (!canScale || SCALABLE.indexOf(file.type) < 0 || file.size <= SCALE_ABOVE) {
      return Promise.resolve(file);
    }
    return createImageBitmap(file, { imageOrientation: "from-image" })
      .then(function (bitmap) {
        var ratio = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
        var canvas = document.createElement("canvas");
        canvas.width = Math.max(1, Math.round(bitmap.width * ratio));
        canvas.height = Math.max(1, Math.round(bitmap.height * ratio));
        var context = canvas.getContext("2d");
        context.fillStyle = "#fff"; // a transparent PNG becomes white, not black, as a JPEG
        context.fillRect(0, 0, canvas.width, canvas.height);
        context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        if (bitmap.close) bitmap.close();
        return new Promise(function (resolve) {
          canvas.toBlob(
            function (blob) {
              if (!blob || blob.size >= file.size) return resolve(file);
              var name = file.name.replace(/\.[A-Za-z0-9]{1,5}$/, "") + ".jpg";
              resolve(new File([blob], name, { type: "image/jpeg", lastModified: Date.now() }));
            },
            "image/jpeg",
            JPEG_QUALITY
          );
        });
      })
      .catch(function () {
        return file;
      });
  }

  function totalBytes() {
    var total = 0;
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      Array.prototype.forEach.call(input.files || [], function (file) {
        total += file.size;
      });
    });
    return total;
  }

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
    var picked = Array.prototype.slice.call(files);
    if (!canScale) return keepFiles(zone, input, picked);
    scaling += 1;
    zone.classList.add("cf-drop--busy");
    Promise.all(picked.map(scaled)).then(function (ready) {
      scaling -= 1;
      zone.classList.remove("cf-drop--busy");
      keepFiles(zone, input, ready);
      if (!scaling && submitWhenDone) {
        submitWhenDone = false;
        send();
      }
    });
  }

  function keepFiles(zone, input, files) {
    var errors = [];
    var store = canStore ? stores.get(input) || new DataTransfer() : null;
    var accepted = [];
    files.forEach(function (file) {
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
    var box = form.querySelector("[data-too-much]");
    if (box && !box.hidden && !(maxRequestBytes && totalBytes() > maxRequestBytes)) box.hidden = true;
    var list = form.querySelector("[data-checklist]");
    var missing = [];
    if (list) {
      list.querySelectorAll("[data-check-kind]").forEach(function (item) {
        var done = present(item.getAttribute("data-check-kind"));
        if (!done) missing.push(item.getAttribute("data-check-label"));
        item.classList.toggle("cf-checklist__item--done", done);
        item.querySelector(".cf-checklist__mark").textContent = done ? "✓" : "○";
        var state = item.querySelector("[data-check-state]");
        if (state) {
          state.textContent = list.getAttribute(done ? "data-attached-label" : "data-missing-label");
        }
      });
    }
    var fast = form.querySelector("[data-fast-missing]");
    if (fast && list) {
      var names = fast.querySelector("[data-fast-missing-list]");
      names.textContent = "";
      missing.forEach(function (label) {
        var span = document.createElement("span");
        span.textContent = label;
        names.appendChild(span);
      });
      fast.querySelector("[data-fast-incomplete]").hidden = !missing.length;
      fast.querySelector("[data-fast-complete]").hidden = !!missing.length;
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

  /* Sending: after scaling, and only what one sending can carry. */
  function tooMuch() {
    var box = form.querySelector("[data-too-much]");
    var over = maxRequestBytes && totalBytes() > maxRequestBytes;
    if (box) {
      box.hidden = !over;
      if (over) box.focus();
    }
    return over;
  }

  function send() {
    if (tooMuch()) return;
    form.submit();
  }

  form.addEventListener("submit", function (event) {
    if (scaling) {
      event.preventDefault();
      submitWhenDone = true;
    } else if (tooMuch()) {
      event.preventDefault();
    }
  });

  form.addEventListener("change", function (event) {
    if (event.target.matches("[data-remove-draft]")) update();
  });
  update();
})();
