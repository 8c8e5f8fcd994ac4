(function () {
  "use strict";
  var tests = Array.prototype.slice.call(document.querySelectorAll("details.test"));
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.cap"));
  var buttons = Array.prototype.slice.call(document.querySelectorAll("nav.toolbar [data-filter]"));
  var search = document.querySelector("nav.toolbar input");
  var empty = document.querySelector(".empty-note");
  var filter = "all";

  function matches(t, text) {
    if (filter === "bad" && !t.hasAttribute("data-bad")) return false;
    if (filter === "skip" && !t.hasAttribute("data-skip")) return false;
    if (filter === "differs" && !t.hasAttribute("data-differs")) return false;
    return !text || t.getAttribute("data-s").indexOf(text) >= 0;
  }

  function apply() {
    var text = search ? search.value.trim().toLowerCase() : "";
    var shown = 0;
    tests.forEach(function (t) {
      var ok = matches(t, text);
      t.hidden = !ok;
      if (ok) shown++;
    });
    sections.forEach(function (s) {
      s.hidden = !s.querySelector("details.test:not([hidden])");
    });
    if (empty) empty.hidden = shown > 0;
  }

  buttons.forEach(function (b) {
    b.addEventListener("click", function () {
      filter = b.getAttribute("data-filter");
      buttons.forEach(function (o) { o.classList.toggle("on", o === b); });
      apply();
    });
  });
  if (search) search.addEventListener("input", apply);

  function setAll(open) {
    tests.forEach(function (t) { if (!t.hidden) t.open = open; });
  }
  document.querySelectorAll("nav.toolbar [data-act]").forEach(function (b) {
    b.addEventListener("click", function () { setAll(b.getAttribute("data-act") === "open"); });
  });

  function fromHash() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (id === "expand-all") { setAll(true); return; }
    var el = id && document.getElementById(id);
    if (el && el.tagName === "DETAILS") { el.open = true; el.scrollIntoView(); }
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
