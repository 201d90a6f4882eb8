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

// Passkeys: adding one on the account page, and signing in with one (the
// second step of a password sign-in, or alone). The server's WebAuthn
// options are JSON with base64url buffers; the browser's own JSON helpers
// read and write them where they exist, the few lines below elsewhere.
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    document.querySelectorAll("[data-passkey]").forEach(function (b) { b.hidden = true; });
    return;
  }
  var b64u = {
    buf: function (s) {
      s = s.replace(/-/g, "+").replace(/_/g, "/");
      var bin = atob(s + "===".slice((s.length + 3) % 4));
      var out = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out.buffer;
    },
    str: function (buf) {
      var bytes = new Uint8Array(buf), bin = "";
      for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
      return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    }
  };
  function creationOptions(o) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(o);
    o.challenge = b64u.buf(o.challenge);
    o.user.id = b64u.buf(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = b64u.buf(c.id); });
    return o;
  }
  function requestOptions(o) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(o);
    o.challenge = b64u.buf(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = b64u.buf(c.id); });
    return o;
  }
  function credentialJSON(c) {
    if (c.toJSON) return c.toJSON();
    var r = c.response, out = { id: c.id, rawId: b64u.str(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(), response: { clientDataJSON: b64u.str(r.clientDataJSON) } };
    if (r.attestationObject) {
      out.response.attestationObject = b64u.str(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = b64u.str(r.authenticatorData);
      out.response.signature = b64u.str(r.signature);
      if (r.userHandle) out.response.userHandle = b64u.str(r.userHandle);
    }
    return out;
  }
  function fail(msg) {
    var p = document.getElementById("passkeyerror");
    if (p) { p.textContent = msg; p.hidden = false; }
  }
  function post(url, body, type, csrf) {
    var h = { "Content-Type": type };
    if (csrf) h["X-CSRF-Token"] = csrf;
    return fetch(url, { method: "POST", headers: h, body: body, credentials: "same-origin" }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (j) {
        if (!res.ok) throw new Error(j.message || ("the server answered " + res.status));
        return j;
      });
    });
  }
  document.querySelectorAll("[data-passkey]").forEach(function (button) {
    button.addEventListener("click", function () {
      var kind = button.getAttribute("data-passkey");
      button.disabled = true;
      var done;
      if (kind === "add") {
        var box = document.getElementById("passkeyadd"), csrf = box.getAttribute("data-csrf");
        var name = document.getElementById("passkeyname").value.trim() || "Passkey";
        done = post(box.getAttribute("data-begin"), "name=" + encodeURIComponent(name), "application/x-www-form-urlencoded", csrf)
          .then(function (o) { return navigator.credentials.create({ publicKey: creationOptions(o.publicKey) }); })
          .then(function (c) { return post(box.getAttribute("data-finish"), JSON.stringify(credentialJSON(c)), "application/json", csrf); });
      } else {
        var next = button.getAttribute("data-next") || "/";
        done = post("/signin/passkey/begin", "", "application/x-www-form-urlencoded")
          .then(function (o) { return navigator.credentials.get({ publicKey: requestOptions(o.publicKey) }); })
          .then(function (c) { return post("/signin/passkey/finish?next=" + encodeURIComponent(next), JSON.stringify(credentialJSON(c)), "application/json"); });
      }
      done.then(function (j) { window.location.assign(j.next || "/"); })
        .catch(function (e) { button.disabled = false; fail("The passkey did not work: " + (e && e.message ? e.message : e)); });
    });
  });
})();
