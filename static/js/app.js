// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  function pickerList(el) { return el && el.closest(".picker-results"); }
  function pickerButtons(list) { return Array.prototype.slice.call(list.querySelectorAll("button[data-pick-value]")); }
  function pickerInputFor(list) {
    var field = list.closest(".field");
    return field ? field.querySelector("input[hx-get]") : null;
  }

  document.addEventListener("click", function (ev) {
    // Picker: clicking a suggestion writes its value into the target input and clears the list.
    var btn = ev.target.closest("[data-pick-value]");
    if (btn) {
      ev.preventDefault();
      var target = document.getElementById(btn.getAttribute("data-pick-target"));
      var label = document.getElementById(btn.getAttribute("data-pick-label-target"));
      var list = pickerList(btn);
      var input = list ? pickerInputFor(list) : null;
      if (target) { target.value = btn.getAttribute("data-pick-value"); target.dispatchEvent(new Event("change", {bubbles: true})); }
      if (label) { label.value = btn.getAttribute("data-pick-label"); }
      if (list) list.innerHTML = "";
      if (input) input.focus();
      return;
    }
    // Toasts: the close button removes its toast.
    var close = ev.target.closest("[data-dismiss='toast']");
    if (close) {
      var toast = close.closest(".toast");
      if (toast) toast.remove();
    }
  });

  // Keyboard for pickers: arrow down from the input enters the list, arrows move, Escape leaves.
  document.addEventListener("keydown", function (ev) {
    var el = ev.target;
    if (!(el instanceof HTMLElement)) return;
    var field = el.closest(".field");
    var list = field ? field.querySelector(".picker-results") : null;
    if (!list) return;
    var buttons = pickerButtons(list);
    if (el.matches("input[hx-get]")) {
      if (ev.key === "ArrowDown" && buttons.length) { ev.preventDefault(); buttons[0].focus(); }
      else if (ev.key === "Escape") { list.innerHTML = ""; }
      return;
    }
    if (!pickerList(el)) return;
    var i = buttons.indexOf(el);
    var input = pickerInputFor(list);
    if (ev.key === "ArrowDown" && i < buttons.length - 1) { ev.preventDefault(); buttons[i + 1].focus(); }
    else if (ev.key === "ArrowUp") { ev.preventDefault(); if (i > 0) buttons[i - 1].focus(); else if (input) input.focus(); }
    else if (ev.key === "Escape") { ev.preventDefault(); list.innerHTML = ""; if (input) input.focus(); }
  });

  // Typing a new comune name forgets a previously picked ISTAT code.
  document.addEventListener("input", function (ev) {
    if (ev.target && ev.target.id === "f-comune" && ev.isTrusted) {
      var istat = document.getElementById("f-comune_istat");
      if (istat) istat.value = "";
    }
  });

  // Regions that HTMX is refreshing say so to assistive technology.
  document.addEventListener("htmx:beforeRequest", function (ev) {
    var t = ev.detail && ev.detail.target;
    if (t && t.setAttribute) t.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", function (ev) {
    var t = ev.detail && ev.detail.target;
    if (t && t.removeAttribute) t.removeAttribute("aria-busy");
  });

  // A toast that finished its fade-out leaves the page.
  document.addEventListener("animationend", function (ev) {
    if (ev.target.classList && ev.target.classList.contains("toast")) ev.target.remove();
  });
})();
