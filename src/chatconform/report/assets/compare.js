// chatconform comparison: filters, collapsible areas, the evidence drawer. The page reads fine
// without this script (every row shown, evidence through :target links); it only adds convenience.
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.req"));
  var areas = Array.prototype.slice.call(document.querySelectorAll("tbody.area"));
  var levelBoxes = Array.prototype.slice.call(document.querySelectorAll('input[name="level"]'));
  var differs = document.getElementById("f-differs");
  var problems = document.getElementById("f-problems");
  var ran = document.getElementById("f-ran");
  var search = document.getElementById("f-search");
  var count = document.getElementById("f-count");
  var empty = document.getElementById("f-empty");

  function apply() {
    var levels = {};
    levelBoxes.forEach(function (b) { levels[b.value] = b.checked; });
    var words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (row) {
      var d = row.dataset;
      var ok = levels[d.level] &&
        (!differs.checked || d.differs === "1") &&
        (!problems.checked || d.problem === "1") &&
        (!ran.checked || d.ran === "1") &&
        words.every(function (w) { return d.search.indexOf(w) !== -1; });
      row.hidden = !ok;
      if (ok) shown += 1;
    });
    areas.forEach(function (area) {
      area.hidden = !area.querySelector("tr.req:not([hidden])");
    });
    count.textContent = shown + " of " + rows.length + " requirements shown";
    empty.hidden = shown !== 0;
  }

  [differs, problems, ran].concat(levelBoxes).forEach(function (el) { el.addEventListener("change", apply); });
  search.addEventListener("input", apply);

  areas.forEach(function (area) {
    var button = area.querySelector(".twisty");
    button.addEventListener("click", function () {
      var collapsed = area.classList.toggle("collapsed");
      button.setAttribute("aria-expanded", String(!collapsed));
    });
  });

  document.querySelector("table.matrix").addEventListener("click", function (event) {
    var stmt = event.target.closest(".stmt");
    if (stmt) stmt.closest("tr.req").classList.toggle("open");
  });

  // The drawer: opened by a cell's #anchor, closed by its ×, Escape, or a click beside it.
  function syncDrawer() {
    var id = decodeURIComponent(location.hash.slice(1));
    var panel = id ? document.getElementById(id) : null;
    var open = !!(panel && panel.classList.contains("ev"));
    document.body.classList.toggle("drawer-open", open);
    if (open) panel.scrollTop = 0;
  }
  function closeDrawer() {
    var id = decodeURIComponent(location.hash.slice(1));
    var panel = id ? document.getElementById(id) : null;
    if (!panel || !panel.classList.contains("ev")) return;
    var row = panel.id.replace(/^e\d+-/, "r-");
    location.replace("#" + row);  // unlike history.replaceState, this also moves :target
  }
  window.addEventListener("hashchange", syncDrawer);
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") closeDrawer(); });
  document.addEventListener("click", function (event) {
    if (!document.body.classList.contains("drawer-open")) return;
    if (event.target.closest(".ev") || event.target.closest("td.v a")) return;
    closeDrawer();
  });
  document.querySelectorAll(".ev .close").forEach(function (a) {
    a.addEventListener("click", function (event) { event.preventDefault(); closeDrawer(); });
  });

  apply();
  syncDrawer();
  document.body.dataset.ready = "1";
})();
