// migplan console: local times, live jobs, htmx error swaps. No framework.
(function () {
  "use strict";
  // Dates arrive in UTC (RFC 3339); show them in the browser's time zone,
  // the UTC time on hover.
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      if (el.dataset.local) return;
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      el.title = el.getAttribute("datetime").replace("T", " ").replace("Z", " UTC");
      el.textContent = d.toLocaleString(document.body.dataset.lang === "zh" ? "zh-CN" : undefined);
      el.dataset.local = "1";
    });
    root.querySelectorAll("[data-since]").forEach(function (el) {
      var d = new Date(el.dataset.since);
      if (isNaN(d)) return;
      el.textContent = age((Date.now() - d.getTime()) / 1000);
    });
  }
  function age(s) {
    var zh = document.body.dataset.lang === "zh";
    if (s < 90) return zh ? Math.round(s) + " 秒前" : Math.round(s) + " s ago";
    if (s < 5400) return zh ? Math.round(s / 60) + " 分钟前" : Math.round(s / 60) + " min ago";
    if (s < 129600) return zh ? Math.round(s / 3600) + " 小时前" : Math.round(s / 3600) + " h ago";
    return zh ? Math.round(s / 86400) + " 天前" : Math.round(s / 86400) + " days ago";
  }
  function duration(s) {
    s = Math.round(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(r).padStart(2, "0");
  }
  // A job page watches its job over server-sent events; reloading the
  // page (or opening it in another tab) reattaches.
  function watchJob() {
    var box = document.getElementById("job");
    if (!box) return;
    var t = box.dataset;
    var log = document.getElementById("job-log");
    var shown = log.children.length;
    function set(id, text) { var el = document.getElementById(id); if (el) el.textContent = text; }
    function show(j) {
      var st = document.getElementById("job-status");
      st.textContent = t["t" + j.status.charAt(0).toUpperCase() + j.status.slice(1)] || j.status;
      st.className = "pill s-" + j.status;
      box.dataset.status = j.status;
      set("job-phase", j.phase ? t["tPhase" + j.phase.charAt(0).toUpperCase() + j.phase.slice(1)] || j.phase : "");
      // The table under way, with its own share and time left when its
      // rows are known beforehand.
      var table = j.table || "";
      if (table && j.table_rows_total) {
        table += " (" + j.table_rows_done.toLocaleString() + " / " + j.table_rows_total.toLocaleString() +
          (j.table_eta_seconds != null ? ", " + t.tEta + " " + duration(j.table_eta_seconds) : "") + ")";
      }
      set("job-table", table);
      set("job-rows", j.rows_done.toLocaleString());
      set("job-total", j.rows_total.toLocaleString());
      var pct = j.status === "succeeded" ? 100 : (j.rows_total ? Math.min(100, 100 * j.rows_done / j.rows_total) : 0);
      document.getElementById("job-bar").style.width = pct.toFixed(1) + "%";
      set("job-rate", j.rows_per_second ? Math.round(j.rows_per_second).toLocaleString() + " " + t.tRate : "");
      set("job-eta", j.eta_seconds != null ? t.tEta + " " + duration(j.eta_seconds) : "");
      for (var i = shown; i < j.log.length; i++) {
        var li = document.createElement("li");
        li.className = j.log[i].level;
        li.textContent = j.log[i].text;
        log.appendChild(li);
      }
      shown = j.log.length;
      if (j.error) {
        document.getElementById("job-error").hidden = false;
        set("job-error-message", j.error.message);
        set("job-error-help", j.error.help || "");
      }
      if (j.result) set("job-result", JSON.stringify(j.result, null, 2));
      if (j.file) {
        document.getElementById("job-file").hidden = false;
        set("job-file-name", j.file);
      }
      if (j.next) {
        document.getElementById("job-next").hidden = false;
        document.getElementById("job-next-link").href = j.next;
      }
      var cancel = document.getElementById("cancel");
      if (cancel && j.status !== "running") cancel.remove();
      if (cancel && j.cancel_requested) cancel.disabled = true;
    }
    if (box.dataset.status !== "running") return;
    var es = new EventSource("/jobs/" + t.id + "/events");
    es.addEventListener("job", function (e) {
      var j = JSON.parse(e.data);
      show(j);
      if (j.status !== "running") {
        es.close();
        // A result laid out by the server (a verify report): the page
        // as it renders a finished job.
        if (box.dataset.rendered === "1" && j.result) location.reload();
      }
    });
  }
  // The export wizard: one plan's modules at a time (a disabled fieldset
  // sends nothing), and a local date-time sent as UTC.
  function wizard() {
    document.querySelectorAll("input[name=plan][data-plan]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        document.querySelectorAll("fieldset.plan-modules").forEach(function (fs) {
          var on = fs.dataset.plan === radio.dataset.plan;
          fs.disabled = !on;
          fs.hidden = !on;
        });
      });
    });
    document.querySelectorAll("input[data-utc]").forEach(function (input) {
      input.addEventListener("change", function () {
        var d = new Date(input.value);
        document.getElementById(input.dataset.utc).value = isNaN(d) ? "" : d.toISOString();
        var mode = input.closest("label").querySelector("input[type=radio]");
        if (mode) mode.checked = true;
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    watchJob();
    wizard();
    // Error pages and fragments are answers too: show them.
    document.body.addEventListener("htmx:beforeSwap", function (e) {
      if (e.detail.xhr.status >= 400) { e.detail.shouldSwap = true; e.detail.isError = false; }
    });
    document.body.addEventListener("htmx:afterSwap", function (e) { localTimes(e.detail.target); });
    // An upload shows how far it has gone.
    document.body.addEventListener("htmx:xhr:progress", function (e) {
      var bar = document.getElementById("upload-progress");
      if (!bar || !e.detail.lengthComputable) return;
      bar.hidden = false;
      bar.value = (100 * e.detail.loaded) / e.detail.total;
    });
  });
})();
