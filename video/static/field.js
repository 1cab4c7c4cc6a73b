// /field: publish this device's camera and microphone over WHIP; reconnect when the link drops.
"use strict";
(function () {
  const V = window.SitroomVideo;
  const $ = (id) => document.getElementById(id);
  const form = $("field-form");
  const streamInput = $("field-stream");
  const titleInput = $("field-name");
  const startButton = $("field-start");
  const stopButton = $("field-stop");
  const preview = $("field-preview");
  const badge = $("field-state");
  const message = $("field-message");

  const params = new URLSearchParams(window.location.search);
  streamInput.value = params.get("stream") || "";
  titleInput.value = params.get("title") || "";

  let media = null;
  let pc = null;
  let location = null;
  let attempt = 0;
  let running = false;
  let timer = null;
  let disconnectedTimer = null;

  function show(state, text) {
    badge.dataset.state = state;
    badge.textContent = V.t(state);
    message.textContent = text || "";
  }

  V.config().then((cfg) => {
    if (!streamInput.value && cfg.publish.length > 0) streamInput.value = cfg.publish[0];
  }).catch((error) => show(V.stateOfError(error), error.body || String(error)));

  function drop() {
    window.clearTimeout(disconnectedTimer);
    if (pc !== null) {
      pc.onconnectionstatechange = null;
      pc.close();
      pc = null;
    }
  }

  // No DELETE here: the new session replaces the old one, and the stream shows interrupted
  // (not ended) in between.
  function reconnect(text) {
    drop();
    location = null;
    if (!running) return;
    show("reconnecting", text);
    window.clearTimeout(timer);
    timer = window.setTimeout(publish, V.delay(attempt++));
  }

  async function publish() {
    show(attempt > 0 ? "reconnecting" : "connecting");
    try {
      pc = await V.peer();
      const current = pc;
      for (const track of media.getTracks()) pc.addTransceiver(track, { direction: "sendonly" });
      pc.onconnectionstatechange = () => {
        window.clearTimeout(disconnectedTimer);
        if (current.connectionState === "connected") {
          attempt = 0;
          show("live");
        } else if (current.connectionState === "failed") {
          reconnect();
        } else if (current.connectionState === "disconnected") {
          // Often recovers by itself within a few seconds; otherwise start again.
          disconnectedTimer = window.setTimeout(() => reconnect(), 4000);
        }
      };
      const query = new URLSearchParams();
      if (titleInput.value) query.set("title", titleInput.value);
      const url = "/whip/" + encodeURIComponent(streamInput.value) +
        (query.toString() ? "?" + query.toString() : "");
      location = (await V.negotiate(pc, url)).location;
    } catch (error) {
      if (error.status === 401 || error.status === 403) {
        stop();
        show(V.stateOfError(error), error.body);
        return;
      }
      reconnect(error.body || String(error));
    }
  }

  async function start(event) {
    event.preventDefault();
    if (running) return;
    try {
      media = await navigator.mediaDevices.getUserMedia({
        video: { width: 640, height: 480 }, audio: true,
      });
    } catch (error) {
      show("error", V.t("camera_denied") + ": " + error.name);
      return;
    }
    preview.srcObject = media;
    running = true;
    attempt = 0;
    startButton.disabled = true;
    stopButton.disabled = false;
    streamInput.disabled = true;
    publish();
  }

  async function stop() {
    running = false;
    window.clearTimeout(timer);
    const ending = location;
    location = null;
    await V.hangUp(ending);
    drop();
    if (media !== null) {
      for (const track of media.getTracks()) track.stop();
      media = null;
    }
    preview.srcObject = null;
    startButton.disabled = false;
    stopButton.disabled = true;
    streamInput.disabled = false;
    show("ended");
  }

  form.addEventListener("submit", start);
  stopButton.addEventListener("click", stop);
  window.addEventListener("pagehide", () => V.hangUp(location));
})();
