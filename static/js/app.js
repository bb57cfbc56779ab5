// Small progressive enhancements; every page works without this file.
document.addEventListener("click", function (ev) {
  // Picker: clicking a suggestion writes its value into the target input and clears the list.
  var btn = ev.target.closest("[data-pick-value]");
  if (!btn) return;
  ev.preventDefault();
  var target = document.getElementById(btn.getAttribute("data-pick-target"));
  var label = document.getElementById(btn.getAttribute("data-pick-label-target"));
  if (target) { target.value = btn.getAttribute("data-pick-value"); target.dispatchEvent(new Event("change", {bubbles: true})); }
  if (label) { label.value = btn.getAttribute("data-pick-label"); }
  var list = btn.closest(".picker-results");
  if (list) list.innerHTML = "";
});
// Toasts fade after a few seconds.
document.addEventListener("DOMContentLoaded", function () {
  setTimeout(function () { document.querySelectorAll(".toast").forEach(function (t) { t.remove(); }); }, 6000);
});
// Typing a new comune name forgets a previously picked ISTAT code.
document.addEventListener("input", function (ev) {
  if (ev.target && ev.target.id === "f-comune" && ev.isTrusted) {
    var istat = document.getElementById("f-comune_istat");
    if (istat) istat.value = "";
  }
});
