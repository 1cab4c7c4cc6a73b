// /watch?streams=a,b: a grid of WHEP players with state badges.
"use strict";
(function () {
  const V = window.SitroomVideo;
  const grid = document.getElementById("watch-grid");
  const message = document.getElementById("watch-message");
  const ids = (new URLSearchParams(window.location.search).get("streams") || "")
    .split(",").map((s) => s.trim()).filter(Boolean).slice(0, V.page.maxGrid);
  if (ids.length === 0) {
    message.textContent = V.t("no_streams");
    return;
  }
  grid.dataset.count = String(ids.length);

  const tiles = new Map();
  for (const id of ids) {
    const tile = document.createElement("figure");
    tile.className = "tile";
    tile.dataset.stream = id;
    const video = document.createElement("video");
    video.autoplay = true;
    video.muted = true; // browsers only autoplay muted video; a click unmutes
    video.playsInline = true;
    video.title = V.t("unmute");
    video.addEventListener("click", () => {
      video.muted = !video.muted;
    });
    const caption = document.createElement("figcaption");
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = id;
    const badge = document.createElement("span");
    badge.className = "badge";
    caption.append(title, badge);
    tile.append(video, caption);
    grid.append(tile);
    const entry = { title, connected: false };
    entry.show = (state) => {
      badge.dataset.state = state;
      badge.textContent = V.t(state);
      tile.dataset.state = state;
    };
    tiles.set(id, entry);
    V.player(id, video, (state) => {
      entry.connected = state === "live";
      entry.show(state);
    });
  }

  // The connection can stay up while its publisher is away: the registry says so.
  async function refresh() {
    try {
      const { streams } = await V.api("/api/streams");
      for (const info of streams) {
        const entry = tiles.get(info.id);
        if (!entry) continue;
        entry.title.textContent = info.title || info.id;
        if (entry.connected) entry.show(info.state);
      }
    } catch (error) {
      console.warn("stream list unavailable", error);
    }
  }
  refresh();
  window.setInterval(refresh, 5000);
})();
