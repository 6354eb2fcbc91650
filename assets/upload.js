/*
 * upload.js: a small streaming-upload widget for the Data page (no framework, no network beyond the app).
 *
 * DOM contract
 * ------------
 * Put an empty element with id "upload-widget" anywhere in a page (Dash: html.Div(id="upload-widget", ...)).
 * The script finds it whenever it appears (Dash renders pages later; a MutationObserver watches) and fills
 * it with a file input, an "Upload" button and one row per upload: name, a <progress> bar and a status line.
 * Optional data attributes on the element (in Dash: **{"data-upload-url": "/upload"} etc.):
 *   data-upload-url      the upload route (default "/upload")
 *   data-dataset-href    a link for a finished upload; "{id}" is replaced by the dataset id (default "/?dataset={id}")
 *   data-target-input    id of an <input> (e.g. a hidden dcc.Input) whose value is set to the new dataset id,
 *                        with an "input" event, so a Dash callback can react (refresh lists, write the URL)
 * While working, the element carries data-state="uploading" | "ingesting" | "done" | "failed"; when an upload
 * ends it gets data-dataset-id (on success) and dispatches a bubbling CustomEvent "upload-done" or
 * "upload-failed" with the job (the JSON of GET /upload/<id>) as event.detail.
 * Row elements have the classes upload-row, upload-name, upload-progress, upload-status and upload-report,
 * and the row carries data-upload-id and data-state, so tests and CSS can address them.
 *
 * Protocol
 * --------
 * GET /upload gives the size limit (files over it are refused here before sending; the server enforces it
 * anyway). The file is sent as the raw body of POST /upload?name=<file name> with XMLHttpRequest, whose
 * upload progress events drive the bar (0-50%: sending). The 202 answer holds status_url; the widget polls it
 * every 500 ms while the server ingests (50-100%), then shows the ingest report: lines parsed and rejected
 * (with the first examples), gaps found, and a link to the dataset.
 */
(function () {
  "use strict";

  var POLL_MS = 500;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function mb(bytes) { return (bytes / 1048576).toFixed(bytes < 10485760 ? 2 : 0) + " MB"; }

  function errorText(xhr) {
    try { return JSON.parse(xhr.responseText).message; } catch (e) { /* not JSON */ }
    if (xhr.status === 0) { return "the connection was closed (the file may exceed the server's limit)"; }
    return "HTTP " + xhr.status;
  }

  function setInputValue(id, value) {
    var input = document.getElementById(id);
    if (!input) { return; }
    // React (Dash) tracks the value itself: use the native setter, then fire "input" so it notices.
    var setter = Object.getOwnPropertyDescriptor(window.HTMLInputElement.prototype, "value").set;
    setter.call(input, value);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function reportNode(job, hrefTemplate) {
    var box = el("div", { "class": "upload-report small" });
    var r = job.report || {};
    var lines = [];
    if (job.duplicate) { lines.push("Already stored: this content is an existing dataset."); }
    lines.push("Format " + (r.format || "?") + (r.compression && r.compression !== "none" ? " (" + r.compression + ")" : "") +
      ", " + (r.start || "").slice(0, 16) + " .. " + (r.end || "").slice(0, 16) + ", " + (r.periods || 0) + " periods");
    lines.push("Lines: " + (r.lines_total || 0) + " read, " + (r.lines_parsed || 0) + " parsed, " +
      (r.lines_rejected || 0) + " rejected");
    (r.gaps || []).forEach(function (g) {
      lines.push("Gap (" + g.kind + "): " + g.start.slice(0, 16) + " .. " + g.end.slice(0, 16) + " (" + g.minutes + " min)");
    });
    (r.assumptions || []).concat(r.warnings || []).forEach(function (t) { lines.push(t); });
    lines.forEach(function (t) { box.appendChild(el("div", {}, t)); });
    if ((r.rejected_examples || []).length) {
      var list = el("ul", { "class": "upload-rejected" });
      r.rejected_examples.forEach(function (x) {
        list.appendChild(el("li", {}, "line " + x.line + ": " + x.reason + ": " + x.text));
      });
      box.appendChild(el("div", {}, "Rejected examples:"));
      box.appendChild(list);
    }
    if (job.dataset_id) {
      var a = el("a", { href: hrefTemplate.replace("{id}", encodeURIComponent(job.dataset_id)), "class": "upload-link" },
        "Open dataset " + job.dataset_id);
      box.appendChild(a);
    }
    return box;
  }

  function mount(root) {
    if (root.getAttribute("data-upload-ready")) { return; }
    root.setAttribute("data-upload-ready", "1");
    var url = root.getAttribute("data-upload-url") || "/upload";
    var href = root.getAttribute("data-dataset-href") || "/?dataset={id}";
    var target = root.getAttribute("data-target-input");
    var limit = null;

    var input = el("input", { type: "file", "class": "form-control upload-file", multiple: "multiple" });
    var button = el("button", { type: "button", "class": "btn btn-primary mt-2 upload-button" }, "Upload");
    var hint = el("div", { "class": "form-text upload-hint" }, "Apache logs, CSV or TXT; gzip/bz2 accepted.");
    var rows = el("div", { "class": "upload-rows mt-2" });
    root.appendChild(input);
    root.appendChild(button);
    root.appendChild(hint);
    root.appendChild(rows);

    var info = new XMLHttpRequest();
    info.open("GET", url);
    info.onload = function () {
      try {
        limit = JSON.parse(info.responseText).max_bytes;
        hint.textContent = "Apache logs, CSV or TXT up to " + mb(limit) + "; gzip/bz2 accepted.";
      } catch (e) { /* keep the generic hint */ }
    };
    info.send();

    function finish(row, job, ok) {
      row.setAttribute("data-state", ok ? "done" : "failed");
      root.setAttribute("data-state", ok ? "done" : "failed");
      if (ok && job.dataset_id) {
        root.setAttribute("data-dataset-id", job.dataset_id);
        if (target) { setInputValue(target, job.dataset_id); }
      }
      root.dispatchEvent(new CustomEvent(ok ? "upload-done" : "upload-failed", { bubbles: true, detail: job }));
    }

    function poll(row, statusUrl) {
      var bar = row.querySelector(".upload-progress");
      var status = row.querySelector(".upload-status");
      var xhr = new XMLHttpRequest();
      xhr.open("GET", statusUrl);
      xhr.onload = function () {
        if (xhr.status !== 200) {
          status.textContent = "Failed: " + errorText(xhr);
          finish(row, { error: errorText(xhr) }, false);
          return;
        }
        var job = JSON.parse(xhr.responseText);
        bar.value = 50 + 50 * (job.progress || 0);
        if (job.state === "done") {
          bar.value = 100;
          status.textContent = job.duplicate ? "Done (already stored)" : "Done";
          row.appendChild(reportNode(job, href));
          finish(row, job, true);
        } else if (job.state === "failed") {
          status.textContent = "Failed: " + job.error;
          finish(row, job, false);
        } else {
          status.textContent = "Ingesting… " + Math.round(100 * (job.progress || 0)) + "%";
          window.setTimeout(function () { poll(row, statusUrl); }, POLL_MS);
        }
      };
      xhr.onerror = function () { window.setTimeout(function () { poll(row, statusUrl); }, POLL_MS * 4); };
      xhr.send();
    }

    function send(file) {
      var row = el("div", { "class": "upload-row mb-2", "data-state": "uploading" });
      row.appendChild(el("div", { "class": "upload-name fw-semibold" }, file.name + " (" + mb(file.size) + ")"));
      var bar = el("progress", { "class": "upload-progress w-100", max: "100", value: "0" });
      var status = el("div", { "class": "upload-status small" }, "Sending…");
      row.appendChild(bar);
      row.appendChild(status);
      rows.insertBefore(row, rows.firstChild);
      root.setAttribute("data-state", "uploading");
      if (limit !== null && file.size > limit) {
        status.textContent = "Refused: " + mb(file.size) + " exceeds the limit of " + mb(limit) +
          "; compress it with gzip or split it.";
        finish(row, { error: status.textContent }, false);
        return;
      }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url + "?name=" + encodeURIComponent(file.name));
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) {
          bar.value = 50 * e.loaded / e.total;
          status.textContent = "Sending… " + mb(e.loaded) + " of " + mb(e.total);
        }
      };
      xhr.onload = function () {
        if (xhr.status !== 202) {
          status.textContent = "Refused: " + errorText(xhr);
          finish(row, { error: errorText(xhr) }, false);
          return;
        }
        var job = JSON.parse(xhr.responseText);
        row.setAttribute("data-upload-id", job.upload_id);
        row.setAttribute("data-state", "ingesting");
        root.setAttribute("data-state", "ingesting");
        status.textContent = "Ingesting…";
        poll(row, job.status_url);
      };
      xhr.onerror = function () {
        status.textContent = "Failed: " + errorText(xhr);
        finish(row, { error: errorText(xhr) }, false);
      };
      xhr.send(file);  // the browser streams the File: nothing is read into memory or base64-encoded
    }

    button.addEventListener("click", function () {
      Array.prototype.forEach.call(input.files || [], send);
      input.value = "";
    });
  }

  function scan() {
    var root = document.getElementById("upload-widget");
    if (root) { mount(root); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", scan);
  } else {
    scan();
  }
  new MutationObserver(scan).observe(document.documentElement, { childList: true, subtree: true });
})();
