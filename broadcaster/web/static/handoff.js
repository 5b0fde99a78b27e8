// Copy buttons of the 緊急速報メール page: the exact text into the clipboard, selected as well
// so that an officer on a device without clipboard access can still copy it by hand.
document.querySelectorAll("[data-copy]").forEach(function (button) {
  button.addEventListener("click", function () {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    field.focus();
    field.select();
    var done = function () { button.setAttribute("data-copied", "1"); };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });
});
