// agent-fsm report: steps each run view's timeline, its diagram and its history together.
// The DOM contract (README, "Looking at a run"): [data-step] entries in order, [data-state] on
// every state of the SVG, class "current" on the state of the current step; ArrowRight and
// ArrowLeft step; a view opens at its data-open step.
(function () {
  "use strict";
  var views = Array.prototype.slice.call(document.querySelectorAll(".run-view"));
  var active = views.length ? views[0] : null;

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }

  function go(view, k) {
    var entries = view.querySelectorAll(".timeline [data-step]");
    if (!entries.length) { return; }
    k = Math.max(0, Math.min(entries.length - 1, k));
    view.step = k;
    var entry = entries[k];
    each(entries, function (e, i) {
      e.classList.toggle("selected", i === k);
      e.classList.toggle("later", i > k);
    });
    each(view.querySelectorAll("svg [data-state].current"), function (e) { e.classList.remove("current"); });
    var state = view.querySelector('svg [data-state="' + entry.dataset.at + '"]');
    if (state) { state.classList.add("current"); }
    each(view.querySelectorAll("svg [data-arrow].taken-now"), function (e) { e.classList.remove("taken-now"); });
    if (entry.dataset.taken) {
      var arrow = view.querySelector('svg [data-arrow="' + entry.dataset.taken + '"]');
      if (arrow) { arrow.classList.add("taken-now"); }
    }
    var shown = parseInt(entry.dataset.history, 10);
    var before = k > 0 ? parseInt(entries[k - 1].dataset.history, 10) : shown;
    each(view.querySelectorAll(".history [data-message]"), function (m) {
      var i = parseInt(m.dataset.message, 10);
      m.classList.toggle("hidden", i >= shown);
      m.classList.toggle("new", i >= before && i < shown);
    });
    var position = view.querySelector(".position");
    if (position) { position.textContent = "step " + k + " of " + (entries.length - 1); }
    var asOf = view.querySelector(".as-of");
    if (asOf) { asOf.textContent = "as of step " + k + " (" + shown + (shown === 1 ? " message)" : " messages)"); }
    var pane = view.querySelector(".timeline-pane");
    if (pane) {
      var top = entry.offsetTop - pane.offsetTop, bottom = top + entry.offsetHeight;
      if (top < pane.scrollTop + 40 || bottom > pane.scrollTop + pane.clientHeight) {
        pane.scrollTop = Math.max(0, top - 60);
      }
    }
  }

  views.forEach(function (view) {
    view.addEventListener("click", function (event) {
      active = view;
      var entry = event.target.closest("[data-step]");
      if (entry && !event.target.closest("summary")) { go(view, parseInt(entry.dataset.step, 10)); }
      if (event.target.closest("button.back")) { go(view, view.step - 1); }
      if (event.target.closest("button.forward")) { go(view, view.step + 1); }
    });
    go(view, parseInt(view.dataset.open || "0", 10));
  });

  document.addEventListener("keydown", function (event) {
    if (!active || event.altKey || event.ctrlKey || event.metaKey) { return; }
    if (event.key === "ArrowRight") { go(active, active.step + 1); event.preventDefault(); }
    if (event.key === "ArrowLeft") { go(active, active.step - 1); event.preventDefault(); }
  });
})();
