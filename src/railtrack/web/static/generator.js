// railtrack license generator: builds the JSON manifest from the form, asks the API for a
// live preview, and creates the license. Plain JS, no framework, nothing from a CDN.
(function () {
  "use strict";
  var form = document.getElementById("generator");
  if (!form) return;
  var commercial = document.getElementById("f-commercial");
  var commercialTouched = false;
  var titleEl = document.getElementById("preview-title");
  var idEl = document.getElementById("preview-id");
  var spdxEl = document.getElementById("preview-spdx");
  var textEl = document.getElementById("preview-text");
  var errorsEl = document.getElementById("form-errors");
  var rows = document.getElementById("custom-rows");
  var template = document.getElementById("custom-row-template");
  var timer = null;
  var seq = 0;

  function value(name) {
    var el = form.elements.namedItem(name);
    return el && typeof el.value === "string" ? el.value.trim() : "";
  }

  function checkedValues(name) {
    var out = [];
    form.querySelectorAll('input[name="' + name + '"]').forEach(function (el) {
      if ((el.type === "checkbox" && el.checked && !el.disabled) || el.type === "hidden") {
        if (out.indexOf(el.value) < 0) out.push(el.value);
      }
    });
    return out;
  }

  // The manifest, in exactly the shape `railtrack license new --format json` writes.
  function buildManifest() {
    var flavor = form.querySelector('input[name="flavor"]:checked');
    var manifest = {
      name: value("name"),
      licensor: value("licensor"),
      flavor: flavor ? flavor.value : "open",
      artifacts: checkedValues("artifacts"),
      restrictions: checkedValues("restrictions"),
      custom_restrictions: [],
      commercial_use: !!commercial.checked
    };
    rows.querySelectorAll(".custom-row").forEach(function (row) {
      var text = row.querySelector("textarea").value.trim();
      if (text) manifest.custom_restrictions.push({ text: text, domain: row.querySelector("select").value });
    });
    ["notice", "jurisdiction", "url", "info"].forEach(function (name) {
      var v = value(name);
      if (v) manifest[name] = v;
    });
    return manifest;
  }

  function showErrors(message) {
    if (message) {
      errorsEl.textContent = message;
      errorsEl.classList.remove("hidden");
    } else {
      errorsEl.textContent = "";
      errorsEl.classList.add("hidden");
    }
  }

  function errorText(status, body) {
    if (body && typeof body.detail === "string") return body.detail;
    return "the server answered " + status;
  }

  function post(url, manifest) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(manifest),
      credentials: "same-origin"
    }).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (body) {
        return { ok: resp.ok, status: resp.status, body: body };
      });
    });
  }

  function preview() {
    var manifest = buildManifest();
    if (!manifest.name || !manifest.licensor) {
      form.classList.add("incomplete");
      return;
    }
    var mine = ++seq;
    post("/api/licenses/preview", manifest).then(function (r) {
      if (mine !== seq) return; // a newer preview is on its way
      if (!r.ok) { showErrors(errorText(r.status, r.body)); return; }
      showErrors("");
      titleEl.textContent = r.body.title;
      idEl.textContent = r.body.id;
      spdxEl.textContent = r.body.spdx_id;
      textEl.textContent = r.body.text;
      form.setAttribute("data-preview-id", r.body.id);
    }).catch(function (err) { showErrors("preview failed: " + err); });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(preview, 250);
  }

  function addRow() {
    var node = template.content.firstElementChild.cloneNode(true);
    rows.appendChild(node);
    node.querySelector("textarea").focus();
  }

  document.getElementById("add-custom").addEventListener("click", addRow);
  rows.addEventListener("click", function (ev) {
    if (ev.target.classList.contains("remove-custom")) {
      ev.target.closest(".custom-row").remove();
      schedule();
    }
  });
  // Commercial use defaults to yes, except for research-only licenses, until the user decides.
  commercial.addEventListener("change", function () { commercialTouched = true; });
  form.querySelectorAll('input[name="flavor"]').forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (!commercialTouched) commercial.checked = radio.value !== "research";
    });
  });
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var button = document.getElementById("create");
    button.disabled = true;
    post("/api/licenses", buildManifest()).then(function (r) {
      button.disabled = false;
      if (!r.ok) { showErrors(errorText(r.status, r.body)); return; }
      window.location.assign(r.body.url);
    }).catch(function (err) {
      button.disabled = false;
      showErrors("could not create the license: " + err);
    });
  });
  schedule();
})();
