// The portal's page script (served as /assets/portal.js; no inline script under the CSP).
// Student page: a terminal per server and user (xterm.js over a WebSocket that reconnects to the same
// shell), "Verificar", topology and progress refreshed while the page is visible.
// Instructor page: "Calcular notas" fills the board's score column.
(function () {
  'use strict';
  var body = document.body;
  var base = body.getAttribute('data-base');
  var words = JSON.parse(body.getAttribute('data-words') || '{}');
  var step = body.getAttribute('data-step');
  var q = step ? '?step=' + encodeURIComponent(step) : '';

  function post(path) {
    return fetch(base + path, { method: 'POST', credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { throw new Error(t || String(r.status)); });
      return r.json();
    });
  }

  // ------------------------------------------------------------ terminals
  var tabs = document.getElementById('tabs');
  var holder = document.getElementById('terminals');
  var open = {};
  var shown;

  function Term(server, user) {
    var key = server + '/' + user;
    var el = document.createElement('div');
    el.className = 'term';
    el.setAttribute('data-key', key);
    el.setAttribute('role', 'tabpanel');
    holder.appendChild(el);
    var status = document.createElement('p');
    status.className = 'termstatus';
    status.setAttribute('aria-live', 'polite');
    holder.appendChild(status);
    var term = new window.Terminal({ convertEol: false, cursorBlink: true, fontSize: 14, scrollback: 5000 });
    var fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(el);
    try { fit.fit(); } catch (e) { /* hidden */ }
    var ws;
    var retries = 0;
    var ended = false;
    var storeKey = 'pglab-term:' + base + ':' + key;

    function say(text) { status.textContent = text || ''; }

    function connect() {
      var id = sessionStorage.getItem(storeKey);
      var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + base + '/term?server=' + encodeURIComponent(server)
        + '&user=' + encodeURIComponent(user) + '&cols=' + term.cols + '&rows=' + term.rows + (id ? '&session=' + encodeURIComponent(id) : '');
      say(id ? words.reconnecting : words.connecting);
      ws = new WebSocket(url);
      ws.onmessage = function (ev) {
        var msg = JSON.parse(ev.data);
        if (msg.type === 'ready') {
          retries = 0;
          say('');
          // The replay is what the shell printed (its last 64 KiB): drawn on a clean screen, new or back.
          term.reset();
          sessionStorage.setItem(storeKey, msg.id);
          term.write(msg.replay);
          el.setAttribute('data-state', 'ready');
        } else if (msg.type === 'output') {
          term.write(msg.data);
        } else if (msg.type === 'closed' || msg.type === 'error') {
          ended = true;
          sessionStorage.removeItem(storeKey);
          term.write('\r\n\x1b[33m' + msg.message + '\x1b[0m\r\n');
          say(msg.message);
          el.setAttribute('data-state', 'closed');
          offerNew();
        }
      };
      ws.onclose = function () {
        if (ended) return;
        el.setAttribute('data-state', 'lost');
        // Back to the same shell (the server keeps it for a while), spaced out; then say so plainly.
        if (retries++ < 8) { say(words.reconnecting); setTimeout(connect, Math.min(8000, 500 * Math.pow(2, retries))); }
        else { say(words.lost); offerNew(); }
      };
    }

    function offerNew() {
      var b = document.createElement('button');
      b.type = 'button';
      b.textContent = words.newTerminal;
      b.onclick = function () { b.remove(); ended = false; retries = 0; sessionStorage.removeItem(storeKey); term.reset(); connect(); };
      status.appendChild(document.createTextNode(' '));
      status.appendChild(b);
    }

    term.onData(function (data) { if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: 'input', data: data })); });
    term.onResize(function (size) { if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: 'resize', cols: size.cols, rows: size.rows })); });
    window.addEventListener('resize', function () { if (shown === api) { try { fit.fit(); } catch (e) { /* hidden */ } } });
    connect();
    var api = {
      el: el, status: status, term: term,
      show: function (yes) { el.hidden = !yes; status.hidden = !yes; if (yes) { try { fit.fit(); } catch (e) { /* */ } term.focus(); } },
    };
    return api;
  }

  function select(btn) {
    var server = btn.getAttribute('data-server');
    var user = btn.getAttribute('data-user');
    var key = server + '/' + user;
    Array.prototype.forEach.call(tabs.querySelectorAll('.tab'), function (b) { b.setAttribute('aria-selected', String(b === btn)); });
    if (!open[key]) open[key] = Term(server, user);
    Object.keys(open).forEach(function (k) { open[k].show(k === key); });
    shown = open[key];
  }

  if (tabs && holder && window.Terminal) {
    tabs.addEventListener('click', function (ev) { var b = ev.target.closest('.tab'); if (b) select(b); });
    var first = tabs.querySelector('.tab');
    if (first) select(first);
  }

  // ------------------------------------------------------------ check, topology, progress
  var checkBtn = document.getElementById('check');
  var checklist = document.getElementById('checklist');
  if (checkBtn && checklist) {
    checkBtn.addEventListener('click', function () {
      checkBtn.disabled = true;
      checklist.textContent = words.checking;
      post('/check' + q).then(function (r) { checklist.innerHTML = r.html; refresh(); })
        .catch(function (e) { checklist.textContent = words.checkFailed + ' ' + e.message; })
        .then(function () { checkBtn.disabled = false; });
    });
  }

  var topo = document.getElementById('topology');
  var progress = document.getElementById('progress');
  function refresh() {
    if (!topo || document.visibilityState === 'hidden') return;
    fetch(base + '/state' + q, { credentials: 'same-origin' }).then(function (r) { return r.ok ? r.json() : null; }).then(function (s) {
      if (!s) return;
      topo.innerHTML = s.topology;
      if (progress) progress.innerHTML = s.progress;
      body.setAttribute('data-updates', String(Number(body.getAttribute('data-updates') || 0) + 1));
    }).catch(function () { /* next time */ });
  }
  if (topo) { refresh(); setInterval(refresh, 10000); }

  // ------------------------------------------------------------ instructor
  var gradeBtn = document.getElementById('grade');
  if (gradeBtn) {
    var gs = document.getElementById('gradestatus');
    gradeBtn.addEventListener('click', function () {
      gradeBtn.disabled = true;
      gs.textContent = words.grading;
      post('/grade').then(function (report) {
        (report.envs || []).forEach(function (g) {
          var tr = document.querySelector('tr[data-env="' + CSS.escape(g.env) + '"]');
          if (!tr) return;
          tr.querySelector('.score').textContent = g.error ? g.error : g.score + '/' + g.maxScore + ' (' + g.percentage + ' %)';
          (g.steps || []).forEach(function (st) {
            var cell = tr.querySelector('td[data-step="' + CSS.escape(st.step) + '"]');
            if (!cell) return;
            cell.textContent = (st.passed ? '✓ ' : '✗ ') + st.points + '/' + st.maxPoints;
            cell.className = 'step ' + (st.passed ? 'pass' : 'fail');
          });
        });
        gs.textContent = '';
      }).catch(function (e) { gs.textContent = words.gradeFailed + ' ' + e.message; })
        .then(function () { gradeBtn.disabled = false; });
    });
  }
})();
