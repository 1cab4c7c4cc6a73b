// /room/{id}: a conference — publish camera+mic, watch the others, chat, draw, share files.
"use strict";
(function () {
  const V = window.SitroomVideo;
  const $ = (id) => document.getElementById(id);
  const roomId = V.page.room;
  const CHUNK = 12 * 1024;

  let pc = null;
  let channel = null;
  let location = null;
  let media = null;
  let me = null;
  let recording = false;
  const watchers = new Map(); // participant id → {player, tile}
  const incoming = new Map(); // sender + transfer id → {name, mime, parts}
  const shapes = [];

  function state(name, text) {
    const badge = $("room-state");
    badge.dataset.state = name;
    badge.textContent = V.t(name);
    $("room-message").textContent = text || "";
  }

  function tile(id, label) {
    const figure = document.createElement("figure");
    figure.className = "tile";
    figure.dataset.participant = id;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    const caption = document.createElement("figcaption");
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = label;
    const badge = document.createElement("span");
    badge.className = "badge";
    caption.append(title, badge);
    figure.append(video, caption);
    $("room-videos").append(figure);
    return { figure, video, badge };
  }

  function roster(participants) {
    const list = $("room-participants");
    list.replaceChildren(...participants.map((p) => {
      const item = document.createElement("li");
      item.textContent = p.name + (p.id === me ? " (" + V.t("me") + ")" : "");
      return item;
    }));
    for (const p of participants) {
      if (p.id === me || watchers.has(p.id)) continue;
      const view = tile(p.id, p.name);
      const player = V.player(p.stream, view.video, (s) => {
        view.badge.dataset.state = s;
        view.badge.textContent = V.t(s);
      });
      watchers.set(p.id, { player, view });
    }
    for (const [id, watcher] of watchers) {
      if (participants.some((p) => p.id === id)) continue;
      watcher.player.close();
      watcher.view.figure.remove();
      watchers.delete(id);
    }
  }

  function addChat(name, text, own) {
    const item = document.createElement("li");
    item.className = own ? "own" : "";
    const who = document.createElement("b");
    who.textContent = name + ": ";
    item.append(who, document.createTextNode(text));
    $("room-chat").append(item);
    item.scrollIntoView({ block: "nearest" });
  }

  function draw() {
    const board = $("room-board");
    const ctx = board.getContext("2d");
    ctx.clearRect(0, 0, board.width, board.height);
    for (const feature of shapes) {
      const g = feature.geometry;
      if (feature.properties.layer !== "canvas" || g.type !== "LineString") continue;
      ctx.strokeStyle = feature.properties.color;
      ctx.lineWidth = 3;
      ctx.beginPath();
      g.coordinates.forEach(([x, y], i) => {
        const px = x * board.width;
        const py = y * board.height;
        if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
      });
      ctx.stroke();
    }
  }

  function send(message) {
    if (channel !== null && channel.readyState === "open") channel.send(JSON.stringify(message));
  }

  function fileArrived(key) {
    const file = incoming.get(key);
    incoming.delete(key);
    const blob = new Blob(file.parts, { type: file.mime });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = file.name;
    link.textContent = file.from + ": " + file.name + " (" + blob.size + " B)";
    const item = document.createElement("li");
    item.append(link);
    $("room-files").append(item);
  }

  // The room's recording state, known only while joined: "录制中" (red) while the server
  // records, a neutral "未录制" otherwise, and no badge at all when not in the room (the
  // state badge then says 未连接 / 已结束).
  function showRecording(active) {
    recording = active;
    const badge = $("room-recording");
    badge.dataset.rec = active ? "on" : "off";
    badge.textContent = V.t(active ? "recording" : "not_recording");
    badge.hidden = false;
    $("room-record").textContent = V.t(active ? "record_stop" : "record_start");
  }

  function forgetRecording() {
    recording = false;
    const badge = $("room-recording");
    badge.hidden = true;
    badge.dataset.rec = "off";
    badge.textContent = V.t("not_recording");
    $("room-record").textContent = V.t("record_start");
  }

  function receive(msg) {
    const key = msg.from + "/" + msg.id;
    switch (msg.type) {
      case "welcome":
        me = msg.participant;
        $("room-name").textContent = msg.room.title;
        showRecording(msg.room.recording);
        for (const entry of msg.log) receive(entry);
        roster(msg.room.participants);
        break;
      case "participants":
        roster(msg.participants);
        break;
      case "chat":
        addChat(msg.name, msg.text, msg.from === me);
        break;
      case "annotation":
        shapes.push(msg.feature);
        draw();
        break;
      case "file":
        incoming.set(key, { name: msg.file, mime: msg.mime, from: msg.name, parts: [] });
        break;
      case "file-chunk":
        if (incoming.has(key)) {
          incoming.get(key).parts.push(Uint8Array.from(atob(msg.data), (c) => c.charCodeAt(0)));
        }
        break;
      case "file-end":
        if (incoming.has(key)) fileArrived(key);
        break;
      case "file-abort":
        incoming.delete(key);
        break;
      case "recording":
        showRecording(msg.active);
        break;
      case "error":
        $("room-message").textContent = msg.reason;
        break;
      default:
        break;
    }
  }

  async function join() {
    $("room-join").disabled = true;
    state("connecting");
    try {
      media = await navigator.mediaDevices.getUserMedia({
        video: { width: 640, height: 480 }, audio: true,
      });
      const own = tile("me", V.t("me"));
      own.video.muted = true;
      own.video.srcObject = media;
      pc = await V.peer();
      for (const track of media.getTracks()) pc.addTransceiver(track, { direction: "sendonly" });
      channel = pc.createDataChannel("room");
      channel.onmessage = (event) => receive(JSON.parse(event.data));
      const current = pc;
      pc.onconnectionstatechange = () => {
        if (current.connectionState === "connected") state("joined");
        if (current.connectionState === "failed") {
          forgetRecording();
          state("error");
        }
      };
      location = (await V.negotiate(pc, "/rooms/" + encodeURIComponent(roomId) + "/join")).location;
      $("room-leave").disabled = false;
    } catch (error) {
      state(V.stateOfError(error), error.body || String(error));
      $("room-join").disabled = false;
    }
  }

  async function leave() {
    const ending = location;
    location = null;
    await V.hangUp(ending);
    if (pc !== null) pc.close();
    pc = null;
    channel = null;
    if (media !== null) for (const track of media.getTracks()) track.stop();
    for (const watcher of watchers.values()) watcher.player.close();
    watchers.clear();
    $("room-videos").replaceChildren();
    $("room-leave").disabled = true;
    $("room-join").disabled = false;
    forgetRecording();
    state("ended");
  }

  $("room-chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("room-chat-input");
    if (!input.value) return;
    send({ type: "chat", text: input.value });
    addChat(V.t("me"), input.value, true);
    input.value = "";
  });

  // Freehand strokes in canvas fractions, sent as GeoJSON LineStrings.
  const board = $("room-board");
  let stroke = null;
  const point = (event) => {
    const box = board.getBoundingClientRect();
    return [(event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height];
  };
  board.addEventListener("pointerdown", (event) => {
    stroke = [point(event)];
  });
  board.addEventListener("pointermove", (event) => {
    if (stroke !== null && stroke.length < 2000) stroke.push(point(event));
  });
  board.addEventListener("pointerup", () => {
    if (stroke !== null && stroke.length >= 2) {
      const color = $("room-colour").value;
      const geometry = { type: "LineString", coordinates: stroke };
      send({ type: "annotation", color, geometry });
      shapes.push({ type: "Feature", geometry, properties: { color, layer: "canvas" } });
      draw();
    }
    stroke = null;
  });
  $("room-clear").addEventListener("click", () => {
    shapes.length = 0;
    draw();
  });

  $("room-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (!file || channel === null) return;
    const cfg = await V.config();
    if (file.size > cfg.maxFileBytes) {
      $("room-message").textContent = V.t("file_too_large");
      return;
    }
    const id = Math.random().toString(36).slice(2, 10);
    send({ type: "file", id, name: file.name, size: file.size, mime: file.type || undefined });
    const bytes = new Uint8Array(await file.arrayBuffer());
    for (let start = 0, seq = 0; start < bytes.length; start += CHUNK, seq += 1) {
      if (channel.bufferedAmount > 1024 * 1024) {
        await new Promise((resolve) => {
          channel.bufferedAmountLowThreshold = 256 * 1024;
          channel.addEventListener("bufferedamountlow", resolve, { once: true });
        });
      }
      const data = btoa(String.fromCharCode(...bytes.subarray(start, start + CHUNK)));
      send({ type: "file-chunk", id, seq, data });
    }
    send({ type: "file-end", id });
  });

  $("room-record").addEventListener("click", async () => {
    try {
      await V.api("/api/rooms/" + encodeURIComponent(roomId) + "/recording", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ action: recording ? "stop" : "start" }),
      });
    } catch (error) {
      $("room-message").textContent = error.body || String(error);
    }
  });

  V.config().then((cfg) => {
    $("room-record").hidden = !["leader", "operator", "admin"].includes(cfg.role);
  }).catch((error) => state(V.stateOfError(error), error.body));
  $("room-join").addEventListener("click", join);
  $("room-leave").addEventListener("click", leave);
  window.addEventListener("pagehide", () => V.hangUp(location));
})();
