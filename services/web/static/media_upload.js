// Progressive enhancement of the media pages (issue #17). Without this file every page works:
// the upload form posts its files in one request, a "Refresh" link shows progress, and the
// focal point is typed in percent. With it:
// - the upload form sends each file in pieces over the web app's tus routes (/media/uploads),
//   showing each file's progress, resuming after a cut connection, so files larger than one
//   request may go too; a refusal is shown next to its file in words, and any other answer
//   (the plan's upgrade page, say) replaces the page's content;
// - media being prepared update by themselves until ready;
// - clicking the photo sets the focal point's two fields.
"use strict";
(function () {
  var REFRESH_MS = 2500;
  var RETRIES = 5;

  function base64(text) {
    var bytes = new TextEncoder().encode(text);
    var binary = "";
    bytes.forEach(function (b) { binary += String.fromCharCode(b); });
    return btoa(binary);
  }

  function metadata(fields) {
    return Object.keys(fields).filter(function (k) { return fields[k]; })
      .map(function (k) { return k + " " + base64(fields[k]); }).join(",");
  }

  function parse(html) { return new DOMParser().parseFromString(html, "text/html"); }

  // One request, as a promise of {status, headers, text}; progress(sentBytes) while sending.
  function send(method, url, headers, body, progress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      Object.keys(headers).forEach(function (k) { xhr.setRequestHeader(k, headers[k]); });
      if (progress && xhr.upload) {
        xhr.upload.onprogress = function (e) { progress(e.loaded); };
      }
      xhr.onload = function () {
        resolve({ status: xhr.status, header: function (n) { return xhr.getResponseHeader(n); },
                  text: xhr.responseText });
      };
      xhr.onerror = function () { reject(new Error("network")); };
      xhr.send(body);
    });
  }

  function Refused(answer) { this.answer = answer; }

  function uploadFile(form, file, row) {
    var csrf = form.getAttribute("data-csrf");
    var chunk = parseInt(form.getAttribute("data-chunk"), 10) || 4194304;
    var common = { "X-CSRF-Token": csrf, "Tus-Resumable": "1.0.0" };
    var created = send("POST", "/media/uploads?scope=" + form.getAttribute("data-scope"),
      Object.assign({
        "Upload-Length": String(file.size),
        "Upload-Metadata": metadata({
          filename: file.name, folder: form.elements.folder.value,
          tags: form.elements.tags.value, library: form.elements.library.value
        })
      }, common), null);
    return created.then(function (answer) {
      if (answer.status !== 201) { throw new Refused(answer); }
      return sendFrom(answer.header("Location"), 0, 0);
    });

    function sendFrom(url, offset, tries) {
      if (offset >= file.size && file.size > 0) { return finished(url); }
      var piece = file.slice(offset, Math.min(file.size, offset + chunk));
      return send("PATCH", url, Object.assign({
        "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream"
      }, common), piece, function (sent) { row.show(offset + sent, file.size); })
        .then(function (answer) {
          if (answer.status !== 204) { throw new Refused(answer); }
          var mediaId = answer.header("Chorus-Media-Id");
          if (mediaId) { return mediaId; }
          return sendFrom(url, parseInt(answer.header("Upload-Offset"), 10), 0);
        }, function () {
          if (tries >= RETRIES) { throw new Error("network"); }
          row.retrying();
          return wait(1000 * Math.pow(2, tries))
            .then(function () { return send("HEAD", url, common, null); })
            .then(function (answer) {
              return sendFrom(url, parseInt(answer.header("Upload-Offset"), 10), tries + 1);
            }, function () { return sendFrom(url, offset, tries + 1); });
        });
    }

    function finished(url) {
      return send("HEAD", url, common, null).then(function (answer) {
        return answer.header("Chorus-Media-Id");
      });
    }
  }

  function wait(ms) { return new Promise(function (r) { window.setTimeout(r, ms); }); }

  function listRow(list, words, file) {
    var item = document.createElement("li");
    var name = document.createElement("strong");
    name.textContent = file.name;
    var state = document.createElement("span");
    state.textContent = " " + words.getAttribute("data-sending");
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", file.name);
    item.append(name, state, bar);
    list.append(item);
    return {
      show: function (sent, total) {
        bar.value = total ? Math.floor(100 * sent / total) : 100;
      },
      retrying: function () { state.textContent = " " + words.getAttribute("data-retry"); },
      done: function (href) {
        bar.value = 100;
        state.textContent = " " + words.getAttribute("data-sent") + " ";
        var link = document.createElement("a");
        link.href = href;
        link.textContent = words.getAttribute("data-open");
        state.append(link);
      },
      failed: function (why) {
        bar.remove();
        state.className = "problem";
        state.textContent = " " + words.getAttribute("data-failed") + ": " + why;
      }
    };
  }

  function replaceMain(html) {
    var found = parse(html).querySelector("main");
    var main = document.querySelector("main");
    if (found && main) { main.replaceChildren.apply(main, Array.from(found.childNodes)); }
  }

  function enhanceUpload(form) {
    var list = form.querySelector("[data-upload-list]");
    var words = form.querySelector("[data-upload-words]");
    form.addEventListener("submit", function (event) {
      var files = [];
      form.querySelectorAll("input[type=file]").forEach(function (input) {
        Array.from(input.files).forEach(function (f) { files.push(f); });
      });
      if (!files.length || !window.FormData) { return; }  // the server says what is missing
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      list.hidden = false;
      list.replaceChildren();
      var base = form.getAttribute("data-media-base");
      var ids = [];
      var refused = 0;
      var stopped = false;
      files.reduce(function (previous, file) {
        var row = listRow(list, words, file);
        return previous.then(function () {
          if (stopped) { return null; }
          return uploadFile(form, file, row).then(function (mediaId) {
            ids.push(mediaId);
            row.done(base + "/" + mediaId);
          }, function (error) {
            refused += 1;
            if (!(error instanceof Refused)) { row.failed(words.getAttribute("data-retry")); return; }
            var problem = parse(error.answer.text).querySelector("[data-upload-problem]");
            if (problem) { row.failed(problem.textContent); return; }
            stopped = true;
            replaceMain(error.answer.text);  // the upgrade page, the 403 page …
          });
        });
      }, Promise.resolve()).then(function () {
        button.disabled = false;
        if (stopped || refused) { return; }
        if (ids.length === 1) {
          window.location.assign(base + "/" + ids[0] + "?done=uploaded");
        } else {
          var library = encodeURIComponent(form.elements.library.value);
          window.location.assign(base + "?library=" + library + "&done=uploaded");
        }
      });
    });
  }

  function reloadWithoutNotice() {
    var url = new URL(window.location.href);
    url.searchParams.delete("done");  // the notice of what was done before ("Uploaded …")
    window.location.replace(url.toString());
  }

  // Media being prepared: read the page again until none is.
  function refreshProcessing() {
    if (!document.querySelector("[data-processing]")) { return; }
    var onCards = document.querySelector("li.media-card[data-processing]") !== null;
    window.setTimeout(function () {
      if (document.hidden) { refreshProcessing(); return; }
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (answer) { return answer.ok ? answer.text() : null; })
        .then(function (html) {
          if (html === null) { refreshProcessing(); return; }
          var fresh = parse(html);
          var cards = document.querySelectorAll("li.media-card[data-processing]");
          if (onCards) {
            cards.forEach(function (card) {
              var now = fresh.getElementById(card.id);
              if (now) { card.replaceWith(document.importNode(now, true)); }
            });
          } else if (!fresh.querySelector("[data-processing]")) {
            var editing = document.activeElement && document.activeElement.form;
            if (!editing) { reloadWithoutNotice(); return; }
          }
          refreshProcessing();
        })
        .catch(refreshProcessing);
    }, REFRESH_MS);
  }

  function enhanceFocal(frame) {
    var image = frame.querySelector("img");
    var marker = frame.querySelector(".focal-marker");
    var fieldX = document.getElementById("focal_x");
    var fieldY = document.getElementById("focal_y");
    if (!image || !marker) { return; }
    function place(x, y) {
      marker.style.left = (x * 100) + "%";
      marker.style.top = (y * 100) + "%";
      marker.hidden = false;
    }
    place(parseFloat(frame.getAttribute("data-x")), parseFloat(frame.getAttribute("data-y")));
    if (!fieldX || !fieldY) { return; }
    frame.classList.add("is-live");
    image.addEventListener("click", function (event) {
      var box = image.getBoundingClientRect();
      var x = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
      var y = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
      fieldX.value = (Math.round(x * 1000) / 10).toString();
      fieldY.value = (Math.round(y * 1000) / 10).toString();
      place(x, y);
    });
    [fieldX, fieldY].forEach(function (field) {
      field.addEventListener("input", function () {
        var x = parseFloat(fieldX.value), y = parseFloat(fieldY.value);
        if (x >= 0 && x <= 100 && y >= 0 && y <= 100) { place(x / 100, y / 100); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-media-upload]").forEach(enhanceUpload);
    document.querySelectorAll("[data-focal-frame]").forEach(enhanceFocal);
    refreshProcessing();
  });
})();
