/*
 * upload.js: a small streaming-upload widget for the Data page (no framework, no network beyond the app).
 *
 * DOM contract
 * ------------
 * Put an empty element with id "upload-widget" (or any element with the attribute data-upload-widget) anywhere
 * in a page (Dash: html.Div(id="upload-widget", ...)). The script finds it whenever it appears (Dash renders
 * pages later; a MutationObserver watches) and fills it with a file input (several files may be picked), a
 * button and one row per upload: name, a <progress> bar and a status line.
 * Optional data attributes on the element (in Dash: **{"data-upload-url": "/upload"} etc.):
 *   data-upload-url      the upload route (default "/upload"; may carry a query, e.g. "/upload?append=<id>"),
 *                        read when a file is sent, so a page may change it
 *   data-dataset-href    a link for a finished upload; "{id}" is replaced by the dataset id (default "/?dataset={id}")
 *   data-target-input    id of an <input> (e.g. a hidden dcc.Input) whose value is set to the new dataset id,
 *                        with an "input" event, so a Dash callback can react (refresh lists, write the URL)
 *   data-button-label    the button's text (default "Upload")
 *   data-hint            the help line under the input (the size limit is added to it)
 * While working, the element carries data-state="uploading" | "ingesting" | "done" | "failed"; when an upload
 * ends it gets data-dataset-id (on success) and dispatches a bubbling CustomEvent "upload-done" or
 * "upload-failed" with the job (the JSON of GET /upload/<id>) as event.detail.
 * Row elements have the classes upload-row, upload-name, upload-progress, upload-status, upload-report,
 * upload-note and upload-files (the per-file table, one tr.upload-file-row per file), and the row carries
 * data-upload-id and data-state, so tests and CSS can address them.
 *
 * Protocol
 * --------
 * GET /upload gives the size limit per file (files over it are refused here, by name, before sending; the
 * server enforces it anyway). One file is sent as the raw body of POST /upload?name=<file name>; several
 * picked together as one multipart/form-data body (a "file" field each), which the server ingests into ONE
 * dataset. XMLHttpRequest's upload progress events drive the bar (0-50%: sending). The 202 answer holds
 * status_url; the widget polls it every 500 ms while the server ingests (50-100%), then shows the ingest
 * report: lines parsed and rejected (with the first examples), gaps found, a line per file when there are
 * several (format, time range, lines parsed and rejected, duplicates counted once), and a link to the dataset.
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

  function minute(t) { return (t || "").slice(0, 16).replace("T", " "); }
  function span(start, end) { return minute(start) + " .. " + minute(end); }

  function filesTable(files) {
    var tbl = el("table", { "class": "table table-sm upload-files mb-1" });
    var head = el("tr");
    ["file", "format", "time range", "lines parsed", "rejected", "note"].forEach(function (h) {
      head.appendChild(el("th", {}, h));
    });
    tbl.appendChild(head);
    files.forEach(function (f) {
      var tr = el("tr", { "class": "upload-file-row" });
      var fmt = (f.format || "") + (f.compression && f.compression !== "none" ? " (" + f.compression + ")" : "");
      [f.name, fmt, f.start ? span(f.start, f.end) : "", String(f.lines_parsed || 0), String(f.lines_rejected || 0),
        f.skipped ? (f.skipped.indexOf("duplicate") === 0 || f.skipped.indexOf("already") === 0 ?
          "counted once: " + f.skipped : "left out: " + f.skipped) : ""].forEach(function (t) {
        tr.appendChild(el("td", {}, t));
      });
      tbl.appendChild(tr);
    });
    return tbl;
  }

  function reportNode(job, hrefTemplate) {
    var box = el("div", { "class": "upload-report small" });
    var r = job.report || {};
    var lines = [];
    if (job.note) { box.appendChild(el("div", { "class": "upload-note alert alert-info py-1 mb-1" }, job.note)); }
    else if (job.duplicate) { lines.push("Already stored: this content is an existing dataset."); }
    lines.push("Format " + (r.format || "?") + (r.compression && r.compression !== "none" ? " (" + r.compression + ")" : "") +
      ", " + span(r.start, r.end) + ", " + (r.periods || 0) + " periods");
    lines.push("Lines: " + (r.lines_total || 0) + " read, " + (r.lines_parsed || 0) + " parsed, " +
      (r.lines_rejected || 0) + " rejected");
    (r.gaps || []).forEach(function (g) {
      lines.push("Gap (" + g.kind + "): " + g.start.slice(0, 16) + " .. " + g.end.slice(0, 16) + " (" + g.minutes + " min)");
    });
    (r.assumptions || []).concat(r.warnings || []).forEach(function (t) { lines.push(t); });
    lines.forEach(function (t) { box.appendChild(el("div", {}, t)); });
    if ((r.files || []).length > 1) { box.appendChild(filesTable(r.files)); }
    if ((r.rejected_examples || []).length) {
      var list = el("ul", { "class": "upload-rejected" });
      r.rejected_examples.forEach(function (x) {
        list.appendChild(el("li", {}, (x.file ? x.file + ", " : "") + "line " + x.line + ": " + x.reason + ": " + x.text));
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
    function url() { return root.getAttribute("data-upload-url") || "/upload"; }
    function withQuery(base, query) { return base + (base.indexOf("?") < 0 ? "?" : "&") + query; }
    var href = root.getAttribute("data-dataset-href") || "/?dataset={id}";
    var target = root.getAttribute("data-target-input");
    var hintText = root.getAttribute("data-hint") || "Access logs, CSV or TXT; gzip/bz2 accepted.";
    var limit = null;

    var input = el("input", { type: "file", "class": "form-control upload-file", multiple: "multiple" });
    var button = el("button", { type: "button", "class": "btn btn-primary mt-2 upload-button" },
      root.getAttribute("data-button-label") || "Upload");
    var hint = el("div", { "class": "form-text upload-hint" }, hintText);
    var rows = el("div", { "class": "upload-rows mt-2" });
    root.appendChild(input);
    root.appendChild(button);
    root.appendChild(hint);
    root.appendChild(rows);

    var info = new XMLHttpRequest();
    info.open("GET", url().split("?")[0]);
    info.onload = function () {
      try {
        limit = JSON.parse(info.responseText).max_bytes;
        hint.textContent = hintText + " Up to " + mb(limit) + " per file.";
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
          status.textContent = job.note ? "Done (nothing added)" : job.duplicate ? "Done (already stored)" : "Done";
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

    function send(files) {
      var row = el("div", { "class": "upload-row mb-2", "data-state": "uploading" });
      var size = files.reduce(function (n, f) { return n + f.size; }, 0);
      var label = files.length === 1 ? files[0].name :
        files.length + " files: " + files.map(function (f) { return f.name; }).join(", ");
      row.appendChild(el("div", { "class": "upload-name fw-semibold" }, label + " (" + mb(size) + ")"));
      var bar = el("progress", { "class": "upload-progress w-100", max: "100", value: "0" });
      var status = el("div", { "class": "upload-status small" }, "Sending…");
      row.appendChild(bar);
      row.appendChild(status);
      rows.insertBefore(row, rows.firstChild);
      root.setAttribute("data-state", "uploading");
      var over = limit === null ? [] : files.filter(function (f) { return f.size > limit; });
      if (over.length) {
        status.textContent = "Refused: " + over.map(function (f) { return f.name + " (" + mb(f.size) + ")"; }).join(", ") +
          (over.length === 1 ? " exceeds" : " exceed") + " the limit of " + mb(limit) +
          " per file; compress it with gzip or split it. Nothing was sent.";
        finish(row, { error: status.textContent }, false);
        return;
      }
      var xhr = new XMLHttpRequest();
      var body;
      if (files.length === 1) {
        xhr.open("POST", withQuery(url(), "name=" + encodeURIComponent(files[0].name)));
        xhr.setRequestHeader("Content-Type", "application/octet-stream");
        body = files[0];  // the browser streams the File: nothing is read into memory or base64-encoded
      } else {
        xhr.open("POST", url());
        body = new FormData();  // one multipart body, the files streamed from disk by the browser
        files.forEach(function (f) { body.append("file", f, f.name); });
      }
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
      xhr.send(body);
    }

    button.addEventListener("click", function () {
      var files = Array.prototype.slice.call(input.files || []);
      if (files.length) { send(files); }  // the files picked together make one dataset
      input.value = "";
    });
  }

  function scan() {
    Array.prototype.forEach.call(document.querySelectorAll("#upload-widget, [data-upload-widget]"), mount);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", scan);
  } else {
    scan();
  }
  new MutationObserver(scan).observe(document.documentElement, { childList: true, subtree: true });
})();
