(function () {
  "use strict";
  // Tenant data is hostile: every value reaches the page through textContent, never innerHTML.
  var data = JSON.parse(document.getElementById("data").textContent);
  var PAGE = 50;
  var collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });
  var fmt = new Intl.NumberFormat("en-US");

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function str(v) { return v === null || v === undefined ? "" : String(v); }

  // Ranks of a string column in collation order, computed once per column.
  function rankOf(n, get) {
    var order = new Array(n);
    var keys = new Array(n);
    for (var i = 0; i < n; i++) { order[i] = i; keys[i] = str(get(i)); }
    order.sort(function (a, b) { return collator.compare(keys[a], keys[b]) || a - b; });
    var rank = new Int32Array(n);
    for (var r = 0; r < n; r++) rank[order[r]] = r;
    return rank;
  }

  function addOptions(select, items) {
    items.forEach(function (item) { select.appendChild(new Option(item[1], String(item[0]))); });
  }

  // A client-side table: filter, sort (per-column numeric keys), page of PAGE rows.
  function Table(cfg) {
    this.cfg = cfg;
    this.keys = {};
    this.sortKey = cfg.sortKey;
    this.sortDir = cfg.sortDir;
    this.page = 0;
    this.rows = new Int32Array(0);
    this.open = {};
    var self = this;
    var heads = cfg.table.querySelectorAll("th[data-key]");
    Array.prototype.forEach.call(heads, function (th) {
      th.querySelector("button").addEventListener("click", function () {
        var key = th.getAttribute("data-key");
        if (self.sortKey === key) self.sortDir = -self.sortDir;
        else { self.sortKey = key; self.sortDir = cfg.columns[key].dir || 1; }
        self.page = 0;
        self.sort();
        self.render();
      });
    });
    this.heads = heads;
    cfg.prev.addEventListener("click", function () { self.go(self.page - 1); });
    cfg.next.addEventListener("click", function () { self.go(self.page + 1); });
    if (cfg.first) cfg.first.addEventListener("click", function () { self.go(0); });
    if (cfg.last) cfg.last.addEventListener("click", function () { self.go(Infinity); });
  }

  Table.prototype.key = function (name) {
    if (!this.keys[name]) {
      var col = this.cfg.columns[name];
      this.keys[name] = col.rank ? rankOf(this.cfg.n, col.value) : col.numeric();
    }
    return this.keys[name];
  };

  Table.prototype.refresh = function () {
    var n = this.cfg.n, test = this.cfg.filter(), out = new Int32Array(n), m = 0;
    for (var i = 0; i < n; i++) if (!test || test(i)) out[m++] = i;
    this.rows = out.slice(0, m);
    this.page = 0;
    this.sort();
    this.render();
  };

  Table.prototype.sort = function () {
    var key = this.key(this.sortKey), dir = this.sortDir;
    this.rows.sort(function (a, b) { return (key[a] - key[b]) * dir || a - b; });
    var self = this;
    Array.prototype.forEach.call(this.heads, function (th) {
      var active = th.getAttribute("data-key") === self.sortKey;
      th.setAttribute("aria-sort", active ? (self.sortDir > 0 ? "ascending" : "descending") : "none");
    });
  };

  Table.prototype.go = function (page) {
    var pages = Math.max(1, Math.ceil(this.rows.length / PAGE));
    this.page = Math.max(0, Math.min(page, pages - 1));
    this.render();
  };

  Table.prototype.render = function () {
    var cfg = this.cfg, total = this.rows.length;
    var pages = Math.max(1, Math.ceil(total / PAGE));
    var start = this.page * PAGE, end = Math.min(total, start + PAGE);
    var body = document.createElement("tbody");
    for (var r = start; r < end; r++) {
      var i = this.rows[r];
      body.appendChild(cfg.row(i, this));
      if (cfg.detail && this.open[i]) body.appendChild(cfg.detail(i));
    }
    if (!total) {
      var tr = el("tr", "empty"), td = el("td", null, cfg.empty);
      td.colSpan = cfg.colspan;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    cfg.table.replaceChild(body, cfg.table.tBodies[0]);
    cfg.count.setAttribute("data-count", String(total));
    cfg.count.textContent = total
      ? "Showing " + fmt.format(start + 1) + "–" + fmt.format(end) + " of " + fmt.format(total) +
        " " + cfg.noun + (total !== cfg.n ? " (filtered from " + fmt.format(cfg.n) + ")" : "")
      : "No " + cfg.noun + " match (" + fmt.format(cfg.n) + " in total)";
    if (cfg.total > cfg.n) {
      cfg.count.textContent += " · this page holds " + fmt.format(cfg.n) + " of " +
        fmt.format(cfg.total) + " " + cfg.noun + "; all are in report.xlsx and guests.csv";
    }
    cfg.pageLabel.textContent = "Page " + fmt.format(this.page + 1) + " of " + fmt.format(pages);
    cfg.pageLabel.setAttribute("data-page", String(this.page + 1));
    cfg.prev.disabled = this.page === 0;
    cfg.next.disabled = this.page >= pages - 1;
    if (cfg.first) cfg.first.disabled = this.page === 0;
    if (cfg.last) cfg.last.disabled = this.page >= pages - 1;
  };

  function debounce(fn, ms) {
    var timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  // ---- guests ----------------------------------------------------------------------------
  var G = data.guests, N = G.id.length, rules = data.rules;
  var SEV = { high: 0, medium: 1, low: 2, info: 3 };
  var ruleSev = rules.map(function (r) { return r.severity in SEV ? SEV[r.severity] : 4; });
  var worst = new Int8Array(N), hay = null;
  for (var gi = 0; gi < N; gi++) {
    var w = 4;
    for (var k = 0; k < G.flagged[gi].length; k++) w = Math.min(w, ruleSev[G.flagged[gi][k]]);
    worst[gi] = w;
  }
  // Addresses arrive split at their last "@" (see _html_data.py); join them back. A UPN sent as 0
  // is the mail's #EXT# form: alias_domain#EXT#@<initial domain>.
  function joinAt(local, code) { return code < 0 ? local : local + "@" + G.at[code]; }
  function upn(i) {
    var local = G.upn[i] === 0 ? G.mail[i] + "_" + G.at[G.mail_at[i]] + "#EXT#" : G.upn[i];
    return joinAt(local, G.upn_at[i]);
  }
  function mail(i) { return joinAt(G.mail[i], G.mail_at[i]); }
  function target(i) { return G.target[i] === 0 ? mail(i) : G.target[i]; }
  function targetKey(i) { return G.key[i] === 0 ? mail(i) : G.key[i]; }
  function haystack() {
    if (!hay) {
      hay = new Array(N);
      for (var i = 0; i < N; i++) {
        hay[i] = (str(G.name[i]) + "\n" + str(upn(i)) + "\n" + str(mail(i)) + "\n" +
          str(target(i)) + "\n" + str(G.id[i])).toLowerCase();
      }
    }
    return hay;
  }

  // Worst first: blocked, unmanaged, unknown, out of scope, ready; then the most severe and the
  // most open findings (the order of the embedded subset, see _html_select.py).
  var OUTCOME_ORDER = { blocked: 0, unmanaged: 1, unknown: 2, out_of_scope: 3, ready: 4 };
  function outcomeKey(codes) {
    return function () {
      var key = new Float64Array(N);
      for (var i = 0; i < N; i++) {
        var o = data.outcomes[codes[i]];
        key[i] = (o in OUTCOME_ORDER ? OUTCOME_ORDER[o] : 9) * 1e6 + worst[i] * 1e4 - G.flagged[i].length;
      }
      return key;
    };
  }

  // The detail text of rule code c for guest i (open findings first, then muted), or "".
  function detailOf(i, c) {
    var k = G.flagged[i].indexOf(c);
    if (k >= 0) return G.details[G.fd[i][k]] || "";
    k = G.muted[i].indexOf(c);
    return k >= 0 ? G.details[G.md[i][k]] || "" : "";
  }

  // The rule that decides the guest's outcome (its first reason), or its most severe finding.
  function mainRule(i) {
    var told = G.reasons[i].filter(function (c) { return detailOf(i, c); });
    if (told.length) return told[0];
    if (G.reasons[i].length) return G.reasons[i][0];
    var best = -1;
    G.flagged[i].forEach(function (c) { if (best < 0 || ruleSev[c] < ruleSev[best]) best = c; });
    return best;
  }

  function badge(code) {
    var o = data.outcomes[code];
    if (o === undefined) return el("span", "muted", "—");
    return el("span", "badge o-" + o, data.outcome_labels[o] || o);
  }

  function chips(td, i) {
    var add = function (codes, muted) {
      codes.forEach(function (c) {
        var rule = rules[c];
        var chip = el("span", "chip c-" + rule.severity + (muted ? " muted" : ""), rule.id);
        chip.title = rule.title + (muted ? " (muted by an exception)" : "");
        td.appendChild(chip);
      });
    };
    add(G.flagged[i], false);
    add(G.muted[i], true);
    if (!G.flagged[i].length && !G.muted[i].length) td.appendChild(el("span", "muted", "none"));
  }

  function guestRow(i, table) {
    var tr = el("tr");
    tr.setAttribute("data-row", String(i));
    var toggle = el("button", "toggle", table.open[i] ? "▾" : "▸");
    toggle.type = "button";
    toggle.setAttribute("aria-expanded", table.open[i] ? "true" : "false");
    toggle.setAttribute("aria-label", "Show details");
    toggle.addEventListener("click", function () { table.open[i] = !table.open[i]; table.render(); });
    var tdToggle = el("td");
    tdToggle.appendChild(toggle);
    tr.appendChild(tdToggle);

    var who = el("td");
    var name = el("span", "cell-main name", G.name[i] === null ? "" : G.name[i]);
    name.title = str(G.name[i]);
    who.appendChild(name);
    who.appendChild(el("span", "cell-sub upn", upn(i)));
    tr.appendChild(who);

    var cell = el("td");
    cell.setAttribute("data-label", "E-mail sent to target");
    var t = target(i);
    cell.appendChild(el("span", "clip mail", t === null ? "— none —" : t));
    if (G.target[i] !== 0 && G.mail[i] !== null) cell.appendChild(el("span", "cell-sub", "mail: " + mail(i)));
    tr.appendChild(cell);

    var o = el("td", "why"); o.appendChild(badge(G.outcome[i]));
    var main = mainRule(i);
    if (main >= 0) {
      var reason = el("span", "cell-sub reason", rules[main].id + ": " + (detailOf(i, main) || rules[main].title));
      reason.title = reason.textContent;
      o.appendChild(reason);
    }
    tr.appendChild(o);
    var wi = el("td"); wi.setAttribute("data-label", "What-if"); wi.appendChild(badge(G.whatif[i])); tr.appendChild(wi);
    var f = el("td", "findings"); f.setAttribute("data-label", "Findings"); chips(f, i); tr.appendChild(f);
    return tr;
  }

  // One finding in the detail row: rule, title, the guest's detail and (for the rules that decide
  // the outcome) the fix.
  function findingItem(i, c, kind) {
    var rule = rules[c], li = el("li", "finding c-" + rule.severity);
    var head = el("div", "finding-head");
    head.appendChild(el("span", "sev sev-" + (rule.severity || "info"), rule.severity || "?"));
    head.appendChild(el("code", null, rule.id));
    if (kind) head.appendChild(el("span", "muted", kind));
    li.appendChild(head);
    li.appendChild(el("div", "finding-title", rule.title));
    var detail = detailOf(i, c);
    if (detail) li.appendChild(el("div", "finding-detail", detail));
    return li;
  }

  function findingList(i) {
    var box = el("div", "findings-detail"), reasons = G.reasons[i];
    if (reasons.length) {
      box.appendChild(el("h4", null, "Why " + (data.outcome_labels[data.outcomes[G.outcome[i]]] || "this outcome").toLowerCase()));
      var why = el("ul", "finding-list");
      reasons.forEach(function (c) {
        var li = findingItem(i, c, "");
        if (rules[c].fix) {
          var fix = el("div", "finding-fix");
          fix.appendChild(el("strong", null, "Fix: "));
          fix.appendChild(document.createTextNode(rules[c].fix));
          li.appendChild(fix);
        }
        why.appendChild(li);
      });
      box.appendChild(why);
    }
    var others = G.flagged[i].filter(function (c) { return reasons.indexOf(c) < 0; });
    if (others.length) {
      box.appendChild(el("h4", null, reasons.length ? "Other open findings" : "Open findings"));
      var list = el("ul", "finding-list");
      others.forEach(function (c) { list.appendChild(findingItem(i, c, "")); });
      box.appendChild(list);
    }
    if (G.muted[i].length) {
      box.appendChild(el("h4", null, "Muted by an exception"));
      var muted = el("ul", "finding-list muted");
      G.muted[i].forEach(function (c) { muted.appendChild(findingItem(i, c, "muted")); });
      box.appendChild(muted);
    }
    return box;
  }

  function step(codes, values, i) {
    return codes && codes[i] >= 0 ? values[codes[i]] : null;
  }

  function guestDetail(i) {
    var tr = el("tr", "detail"), td = el("td");
    td.colSpan = 6;
    td.appendChild(findingList(i));
    var dl = el("dl", "kv");
    var names = function (codes) { return codes.map(function (c) { return rules[c].id; }).join(", "); };
    [
      ["Display name", G.name[i]],
      ["Object id", G.id[i]],
      ["User principal name", upn(i)],
      ["mail", mail(i)],
      ["Target e-mail", target(i)],
      ["Target key", targetKey(i)],
      ["Mail domain", G.domain[i] < 0 ? null : G.domains[G.domain[i]]],
      ["Scope", G.scope[i] < 0 ? "unknown" : G.scopes[G.scope[i]]],
      ["Invitation", G.state[i] < 0 ? "unknown" : G.states[G.state[i]]],
      ["Account enabled", G.enabled[i] === null ? "unknown" : (G.enabled[i] ? "yes" : "no")],
      ["Target account", !G.account || G.account[i] < 0 ? "not read" : G.accounts[G.account[i]]],
      ["1. Scope", step(G.step_scope, G.step_scopes, i)],
      ["2. Match", G.step_match[i] === 0 ? G.match_key + " = " + targetKey(i) : G.step_match[i]],
      ["3. Action", step(G.step_action, G.step_actions, i)],
      ["4. Attributes", G.step_attributes ? G.step_attributes[i] : "see report.xlsx or guests.csv (step_attributes)"],
      ["5. Result", step(G.step_result, G.step_results, i)],
      ["Outcome decided by", names(G.reasons[i]) || "—"],
      ["Open findings", names(G.flagged[i]) || "—"],
      ["Muted findings", names(G.muted[i]) || "—"]
    ].forEach(function (kv) {
      dl.appendChild(el("dt", null, kv[0]));
      dl.appendChild(el("dd", null, kv[1] === null || kv[1] === undefined ? "—" : kv[1]));
    });
    td.appendChild(dl);
    tr.appendChild(td);
    return tr;
  }

  var q = $("guest-q"), fOutcome = $("guest-outcome"), fWhatif = $("guest-whatif");
  var fRule = $("guest-rule"), fSev = $("guest-sev"), fDomain = $("guest-domain");
  var outcomeItems = data.outcomes.map(function (o, i) { return [i, data.outcome_labels[o] || o]; });
  addOptions(fOutcome, outcomeItems);
  addOptions(fWhatif, outcomeItems);
  var used = new Uint8Array(rules.length);
  for (var ui = 0; ui < N; ui++) {
    G.flagged[ui].forEach(function (c) { used[c] = 1; });
    G.muted[ui].forEach(function (c) { used[c] = 1; });
  }
  addOptions(fRule, rules.map(function (r, i) { return [i, r.id]; }).filter(function (x) { return used[x[0]]; }));
  addOptions(fSev, data.severities.map(function (s) { return [s, s]; }));
  var domainCounts = new Int32Array(G.domains.length);
  for (var di = 0; di < N; di++) if (G.domain[di] >= 0) domainCounts[G.domain[di]]++;
  var domainItems = G.domains.map(function (d, i) { return [i, d + " (" + fmt.format(domainCounts[i]) + ")"]; });
  domainItems.sort(function (a, b) { return collator.compare(G.domains[a[0]], G.domains[b[0]]); });
  addOptions(fDomain, domainItems);

  function guestFilter() {
    var text = q.value.trim().toLowerCase();
    var oc = fOutcome.value === "" ? -1 : +fOutcome.value;
    var wc = fWhatif.value === "" ? -1 : +fWhatif.value;
    var rc = fRule.value === "" ? -1 : +fRule.value;
    var sv = fSev.value === "" ? -1 : SEV[fSev.value];
    var dc = fDomain.value === "" ? -1 : +fDomain.value;
    if (!text && oc < 0 && wc < 0 && rc < 0 && sv < 0 && dc < 0) return null;
    var h = text ? haystack() : null;
    return function (i) {
      if (oc >= 0 && G.outcome[i] !== oc) return false;
      if (wc >= 0 && G.whatif[i] !== wc) return false;
      if (dc >= 0 && G.domain[i] !== dc) return false;
      if (rc >= 0 && G.flagged[i].indexOf(rc) < 0 && G.muted[i].indexOf(rc) < 0) return false;
      if (sv >= 0 && !G.flagged[i].some(function (c) { return ruleSev[c] === sv; })) return false;
      return !h || h[i].indexOf(text) >= 0;
    };
  }

  var guests = new Table({
    n: N,
    table: $("guest-table"),
    count: $("guest-count"),
    pageLabel: $("guest-page"),
    prev: $("guest-prev"), next: $("guest-next"), first: $("guest-first"), last: $("guest-last"),
    noun: "guests",
    total: +($("guests").getAttribute("data-total") || N),
    empty: "No guests match these filters.",
    colspan: 6,
    filter: guestFilter,
    row: guestRow,
    detail: guestDetail,
    sortKey: "outcome",
    sortDir: 1,
    columns: {
      name: { rank: true, value: function (i) { return G.name[i]; } },
      target: { rank: true, value: target },
      outcome: { numeric: outcomeKey(G.outcome) },
      whatif: { numeric: outcomeKey(G.whatif) },
      findings: {
        numeric: function () {
          var key = new Float64Array(N);
          for (var i = 0; i < N; i++) key[i] = worst[i] * 1000 - G.flagged[i].length;
          return key;
        }
      }
    }
  });
  var refreshGuests = function () { guests.refresh(); };
  q.addEventListener("input", debounce(refreshGuests, 120));
  [fOutcome, fWhatif, fRule, fSev, fDomain].forEach(function (s) { s.addEventListener("change", refreshGuests); });
  $("guest-clear").addEventListener("click", function () {
    q.value = "";
    [fOutcome, fWhatif, fRule, fSev, fDomain].forEach(function (s) { s.value = ""; });
    refreshGuests();
  });
  guests.refresh();

  // KPI cards filter by outcome, rule links by rule; both then show the table.
  function showGuests(outcome, ruleId) {
    q.value = "";
    [fOutcome, fWhatif, fRule, fSev, fDomain].forEach(function (s) { s.value = ""; });
    if (outcome) fOutcome.value = String(data.outcomes.indexOf(outcome));
    if (ruleId) {
      var code = -1;
      rules.forEach(function (r, k) { if (r.id === ruleId) code = k; });
      if (code >= 0 && !fRule.querySelector('option[value="' + code + '"]')) addOptions(fRule, [[code, ruleId]]);
      fRule.value = code >= 0 ? String(code) : "";
    }
    refreshGuests();
  }
  Array.prototype.forEach.call(document.querySelectorAll("a[data-outcome]"), function (a) {
    a.addEventListener("click", function () { showGuests(a.getAttribute("data-outcome"), null); });
  });
  Array.prototype.forEach.call(document.querySelectorAll("a[data-rule]"), function (a) {
    a.addEventListener("click", function () { showGuests(null, a.getAttribute("data-rule")); });
  });

  // ---- domains ---------------------------------------------------------------------------
  var D = data.domains, ND = D.domain.length, dq = $("domain-q");
  function yesno(v) { return v === null || v === undefined ? "unknown" : (v ? "yes" : "no"); }
  function numericOf(arr) {
    return function () {
      var key = new Float64Array(ND);
      for (var i = 0; i < ND; i++) key[i] = arr[i] === null ? -1 : +arr[i];
      return key;
    };
  }
  var domainTable = new Table({
    n: ND,
    table: $("domain-table"),
    count: $("domain-count"),
    pageLabel: $("domain-page"),
    prev: $("domain-prev"), next: $("domain-next"),
    noun: "domains",
    empty: "No domains match.",
    colspan: 8,
    filter: function () {
      var text = dq.value.trim().toLowerCase();
      if (!text) return null;
      return function (i) { return (str(D.domain[i]) + "\n" + str(D.mx[i])).toLowerCase().indexOf(text) >= 0; };
    },
    row: function (i) {
      var tr = el("tr");
      var d = el("td"); d.appendChild(el("span", "clip", D.domain[i])); tr.appendChild(d);
      tr.appendChild(el("td", "num", fmt.format(D.guests[i] || 0)));
      tr.appendChild(el("td", "num", fmt.format(D.affected[i] || 0)));
      tr.appendChild(el("td", null, yesno(D.verified_in_target[i])));
      tr.appendChild(el("td", null, yesno(D.claimed_elsewhere[i])));
      tr.appendChild(el("td", null, yesno(D.public_provider[i])));
      tr.appendChild(el("td", null, str(D.mail_state[i] || "unknown").replace(/_/g, " ")));
      var mx = el("td"); mx.appendChild(el("span", "clip", D.mx[i])); tr.appendChild(mx);
      return tr;
    },
    sortKey: "affected",
    sortDir: -1,
    columns: {
      domain: { rank: true, value: function (i) { return D.domain[i]; } },
      guests: { numeric: numericOf(D.guests), dir: -1 },
      affected: { numeric: numericOf(D.affected), dir: -1 },
      verified: { numeric: numericOf(D.verified_in_target) },
      claimed: { numeric: numericOf(D.claimed_elsewhere), dir: -1 },
      public: { numeric: numericOf(D.public_provider), dir: -1 },
      state: { rank: true, value: function (i) { return D.mail_state[i]; } },
      mx: { rank: true, value: function (i) { return D.mx[i]; } }
    }
  });
  dq.addEventListener("input", debounce(function () { domainTable.refresh(); }, 120));
  domainTable.refresh();
  document.documentElement.setAttribute("data-ready", "true");
})();
