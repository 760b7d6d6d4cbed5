/* reports/index.html: filter, sort and page the embedded runs offline. Values are set with textContent only. */
(function () {
  "use strict";
  var PAGE = 50, $ = function (id) { return document.getElementById(id); };
  var runs = JSON.parse($("runs-data").textContent);
  var state = {q: "", notebook: "", status: "", tag: "", field: "", min: "", max: "", sort: "", page: 0};
  var KEYS = ["q", "notebook", "status", "tag", "field", "min", "max", "sort", "page"];

  function uniq(get) {
    var seen = {};
    runs.forEach(function (r) { [].concat(get(r)).forEach(function (v) { if (v !== undefined && v !== null) seen[v] = 1; }); });
    return Object.keys(seen).sort();
  }
  function options(sel, values) {
    values.forEach(function (v) { var o = document.createElement("option"); o.value = v; o.textContent = v; sel.appendChild(o); });
  }
  options($("f-notebook"), uniq(function (r) { return r.n; }));
  options($("f-status"), uniq(function (r) { return r.s; }));
  options($("f-tag"), uniq(function (r) { return r.g; }));
  options($("f-field"), uniq(function (r) {
    return Object.keys(r.p).map(function (k) { return "params." + k; }).concat(Object.keys(r.m).map(function (k) { return "metrics." + k; }));
  }));

  function value(r, field) {
    if (!field) return undefined;
    var dot = field.indexOf("."), obj = field.slice(0, dot) === "params" ? r.p : r.m;
    return obj[field.slice(dot + 1)];
  }
  function hay(r) {
    if (r.h === undefined) r.h = [r.i, r.n, r.s, JSON.stringify(r.p), JSON.stringify(r.m), r.g.join(" "), r.w || ""].join(" ").toLowerCase();
    return r.h;
  }
  function sortKey(r, key) {
    if (key === "v") return value(r, state.field);
    if (key === "g") return r.g.join(",");
    return r[key];
  }
  function compare(key, desc) {
    return function (a, b) {
      var x = sortKey(a, key), y = sortKey(b, key);
      var nx = x === undefined || x === null || x === "", ny = y === undefined || y === null || y === "";
      if (nx || ny) return nx === ny ? 0 : (nx ? 1 : -1);  /* missing values last either way */
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      return (x < y ? -1 : x > y ? 1 : 0) * (desc ? -1 : 1);
    };
  }
  function matches(r, q, lo, hi) {
    if (state.notebook && r.n !== state.notebook) return false;
    if (state.status && r.s !== state.status) return false;
    if (state.tag && r.g.indexOf(state.tag) < 0) return false;
    if (state.field) {
      var v = value(r, state.field);
      if (v === undefined) return false;
      if ((lo !== null || hi !== null) && typeof v !== "number") return false;
      if (lo !== null && v < lo) return false;
      if (hi !== null && v > hi) return false;
    }
    return !q || hay(r).indexOf(q) >= 0;
  }
  function fmt(v) {
    if (typeof v === "number" && !Number.isInteger(v)) return String(Number(v.toPrecision(4)));
    return typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
  }
  function pairs(obj, limit) {
    var keys = Object.keys(obj), out = keys.slice(0, limit).map(function (k) { return k + "=" + fmt(obj[k]); }).join(", ");
    return out + (keys.length > limit ? " …" : "");
  }
  function cell(tr, text) { var td = document.createElement("td"); if (text !== undefined) td.textContent = text; tr.appendChild(td); return td; }
  function link(td, href, text) { var a = document.createElement("a"); a.href = href; a.textContent = text; td.appendChild(a); }

  function row(r) {
    var tr = document.createElement("tr");
    cell(tr, r.n);
    var code = document.createElement("code"); code.textContent = r.i; cell(tr).appendChild(code);
    var st = cell(tr), span = document.createElement("span");
    span.className = "wb-status wb-status-" + r.s; span.textContent = r.s; st.appendChild(span);
    if (r.c) { var m = document.createElement("span"); m.className = "wb-muted"; m.textContent = " reused " + r.c; st.appendChild(m); }
    tr.insertBefore(cell(tr, (r.t || "").slice(0, 19).replace("T", " ")), st);
    cell(tr, typeof r.d === "number" ? r.d.toFixed(1) + " s" : "");
    cell(tr, pairs(r.p, 6));
    cell(tr, pairs(r.m, 5));
    var tags = cell(tr);
    r.g.forEach(function (t) { var s = document.createElement("span"); s.className = "wb-tag"; s.textContent = t; tags.appendChild(s); });
    var sw = cell(tr);
    if (r.wl) link(sw, r.wl, r.w); else sw.textContent = r.w || "";
    var v = cell(tr, state.field ? fmt(value(r, state.field)) : ""); v.hidden = !state.field;
    var links = cell(tr);
    link(links, r.l + "/report.html", "report"); links.appendChild(document.createTextNode(" · "));
    link(links, r.l + "/notebook.ipynb", "notebook"); links.appendChild(document.createTextNode(" · "));
    link(links, r.l + "/run.json", "run.json");
    return tr;
  }

  function apply() {
    var t0 = performance.now();
    var lo = state.min === "" ? null : Number(state.min), hi = state.max === "" ? null : Number(state.max);
    var q = state.q.toLowerCase().trim();
    var shown = runs.filter(function (r) { return matches(r, q, lo, hi); });
    if (state.sort) {
      var desc = state.sort.charAt(0) === "-";
      shown.sort(compare(desc ? state.sort.slice(1) : state.sort, desc));
    }
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    state.page = Math.min(Math.max(0, Number(state.page) || 0), pages - 1);
    var first = state.page * PAGE, body = document.createElement("tbody");
    body.id = "rows";
    shown.slice(first, first + PAGE).forEach(function (r) { body.appendChild(row(r)); });
    $("rows").replaceWith(body);
    $("col-field").hidden = !state.field; $("col-field").textContent = state.field;
    $("p-info").textContent = shown.length ? "rows " + (first + 1) + "-" + Math.min(first + PAGE, shown.length) + " of " + shown.length : "no run matches";
    $("p-prev").disabled = state.page === 0; $("p-next").disabled = state.page >= pages - 1;
    $("f-count").textContent = shown.length + " of " + runs.length + " runs";
    document.body.setAttribute("data-shown", String(shown.length));
    document.body.setAttribute("data-filter-ms", (performance.now() - t0).toFixed(1));
    save();
  }

  function save() {
    var parts = KEYS.filter(function (k) { return state[k] !== "" && state[k] !== 0; })
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(state[k]); });
    try { history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname); } catch (e) { /* file:// in some browsers */ }
  }
  function reset() { KEYS.forEach(function (k) { state[k] = k === "page" ? 0 : ""; }); }
  function show() { ["q", "notebook", "status", "tag", "field", "min", "max"].forEach(function (k) { $("f-" + k).value = state[k]; }); }
  function load() {
    reset();
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      var i = kv.indexOf("="), k = decodeURIComponent(kv.slice(0, i));
      if (i > 0 && KEYS.indexOf(k) >= 0) state[k] = decodeURIComponent(kv.slice(i + 1));
    });
    show();
  }

  ["q", "notebook", "status", "tag", "field", "min", "max"].forEach(function (k) {
    $("f-" + k).addEventListener("input", function () { state[k] = $("f-" + k).value; state.page = 0; apply(); });
  });
  $("f-clear").addEventListener("click", function () {
    reset(); show(); apply();
  });
  document.querySelectorAll("th[data-sort]").forEach(function (th) {
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-sort");
      state.sort = state.sort === key ? "-" + key : key; state.page = 0; apply();
    });
  });
  $("p-prev").addEventListener("click", function () { state.page = Number(state.page) - 1; apply(); });
  $("p-next").addEventListener("click", function () { state.page = Number(state.page) + 1; apply(); });
  window.addEventListener("hashchange", function () { load(); apply(); });
  load();
  apply();
  document.body.setAttribute("data-ready-ms", performance.now().toFixed(1));
})();
