// Hangar console: an upload's progress bar (the form works without it).
"use strict";
(function () {
  var form = document.getElementById("upload");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  var bar = document.getElementById("progress");
  var status = document.getElementById("status");
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var button = form.querySelector("button");
    button.disabled = true;
    bar.hidden = false;
    status.textContent = "Uploading…";
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      var pct = Math.floor(e.loaded * 100 / e.total);
      bar.value = pct;
      bar.textContent = pct + "%";
      status.textContent = "Uploading… " + pct + "%";
    };
    xhr.onload = function () {
      if (xhr.status >= 200 && xhr.status < 300 && xhr.responseURL) {
        window.location.assign(xhr.responseURL);
        return;
      }
      var msg = "";
      try {
        var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var p = doc.querySelector("main p");
        msg = p ? p.textContent : "";
      } catch (e) { /* keep the status line */ }
      fail("Upload refused (" + xhr.status + "): " + (msg || xhr.statusText) + ". Nothing was stored.");
    };
    xhr.onerror = function () { fail("The connection dropped before the upload ended. Nothing was stored: try again."); };
    xhr.send(new FormData(form));
    function fail(text) {
      status.textContent = text;
      status.className = "error";
      bar.hidden = true;
      button.disabled = false;
    }
  });
})();

// Copy buttons: data-copy names the input whose value they copy.
(function () {
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var input = document.getElementById(b.getAttribute("data-copy"));
      if (!input) return;
      var done = function () { b.textContent = "Copied"; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
      } else {
        input.select();
        document.execCommand("copy");
        done();
      }
    });
  });
})();
