/* bianmin: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";
  // 打印本页: the button is hidden until we know window.print exists.
  var buttons = document.querySelectorAll("[data-print]");
  Array.prototype.forEach.call(buttons, function (button) {
    if (typeof window.print !== "function") return;
    var holder = button.closest("[hidden]");
    if (holder) holder.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
  // A share link's address is selected as soon as its field gets focus, ready to copy.
  var fields = document.querySelectorAll("[data-select-on-focus]");
  Array.prototype.forEach.call(fields, function (field) {
    field.addEventListener("focus", function () { field.select(); });
  });
})();
