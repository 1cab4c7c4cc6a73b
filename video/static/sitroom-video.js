// Shared by the video pages: token handling, the JSON API, WHIP/WHEP signalling, a WHEP player.
"use strict";
(function () {
  const page = JSON.parse(document.getElementById("sitroom-page").textContent);
  const params = new URLSearchParams(window.location.search);
  const token = params.get("token") || "";
  if (params.has("token")) {
    // Keep the token in memory only: out of the address bar, history and bookmarks.
    params.delete("token");
    const rest = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (rest ? "?" + rest : ""));
  }

  const t = (key) => page.labels[key] || key;
  const auth = () => ({ Authorization: "Bearer " + token });

  class HttpError extends Error {
    constructor(status, body) {
      super(status + ": " + body);
      this.status = status;
      this.body = body;
    }
  }

  async function api(path, options = {}) {
    const response = await fetch(path, {
      ...options,
      headers: { ...auth(), ...(options.headers || {}) },
    });
    const body = await response.text();
    if (!response.ok) throw new HttpError(response.status, body);
    return body ? JSON.parse(body) : null;
  }

  let configPromise = null;
  function config() {
    if (configPromise === null) configPromise = api("/api/config");
    return configPromise;
  }

  async function peer() {
    const cfg = await config();
    return new RTCPeerConnection({ iceServers: cfg.iceServers });
  }

  // Non-trickle: the offer goes out with every candidate gathered (or after a short wait).
  function gathered(pc, timeoutMs) {
    return new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") {
        resolve();
        return;
      }
      const check = () => {
        if (pc.iceGatheringState === "complete") {
          pc.removeEventListener("icegatheringstatechange", check);
          resolve();
        }
      };
      pc.addEventListener("icegatheringstatechange", check);
      window.setTimeout(resolve, timeoutMs);
    });
  }

  async function negotiate(pc, url) {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 2000);
    const response = await fetch(url, {
      method: "POST",
      headers: { ...auth(), "Content-Type": "application/sdp" },
      body: pc.localDescription.sdp,
    });
    const body = await response.text();
    if (response.status !== 201) throw new HttpError(response.status, body);
    await pc.setRemoteDescription({ type: "answer", sdp: body });
    return { location: response.headers.get("Location"), headers: response.headers };
  }

  // Resolves once the server has ended the session (before the caller closes its peer, so
  // that the server sees a goodbye, not a dropped connection).
  function hangUp(location) {
    if (!location) return Promise.resolve();
    return fetch(location, { method: "DELETE", headers: auth(), keepalive: true })
      .then(() => undefined)
      .catch((error) => console.warn("hang-up failed", error));
  }

  function delay(attempt) {
    const base = Math.min(15000, 1000 * 2 ** attempt);
    return base * (0.5 + Math.random() / 2);
  }

  function stateOfError(error) {
    const byStatus = { 401: "no_token", 403: "forbidden", 404: "not_found" };
    return byStatus[error.status] || "error";
  }

  // A WHEP player that reconnects by itself; onState gets connecting, live, not_found, ...
  function player(streamId, video, onState) {
    let pc = null;
    let location = null;
    let attempt = 0;
    let stopped = false;
    let timer = null;

    // DELETE first, close after: a peer closed first looks like a dropped viewer.
    async function cleanup() {
      const closing = pc;
      const ending = location;
      pc = null;
      location = null;
      video.srcObject = null;
      if (closing !== null) closing.onconnectionstatechange = null;
      await hangUp(ending);
      if (closing !== null) closing.close();
    }

    function retry() {
      cleanup();  // in the background: the next attempt does not wait for it
      if (stopped) return;
      window.clearTimeout(timer);
      timer = window.setTimeout(connect, delay(attempt++));
    }

    async function connect() {
      if (stopped) return;
      onState("connecting");
      try {
        pc = await peer();
        const current = pc;
        pc.addTransceiver("video", { direction: "recvonly" });
        pc.addTransceiver("audio", { direction: "recvonly" });
        const stream = new MediaStream();
        pc.ontrack = (event) => {
          stream.addTrack(event.track);
          video.srcObject = stream;
        };
        pc.onconnectionstatechange = () => {
          if (current.connectionState === "connected") {
            attempt = 0;
            onState("live");
          } else if (current.connectionState === "failed") {
            onState("reconnecting");
            retry();
          }
        };
        location = (await negotiate(pc, "/whep/" + encodeURIComponent(streamId))).location;
      } catch (error) {
        onState(stateOfError(error));
        if (error.status === 401 || error.status === 403) return;
        retry();
      }
    }

    connect();
    return {
      close() {
        stopped = true;
        window.clearTimeout(timer);
        cleanup();
      },
    };
  }

  window.SitroomVideo = {
    page, token, t, api, config, peer, negotiate, hangUp, delay, player, stateOfError,
    HttpError,
  };
})();
