"""Video benchmark: glass-to-glass latency, viewers per stream, memory after 100 reconnections.

Processes, as deployed: the video server runs alone in a child process; viewers run in two
other child processes; the publisher (a numbered 640×480 30 fps pattern) runs here. Latency
is measured here too: the viewer decodes the frame number and looks up when it was sent.

Baselines: a direct publisher → viewer peer connection (latency), and a server built on
aiortc's MediaRelay, where every viewer's sender encodes its own copy (capacity).

Viewers in the capacity runs count complete frames out of their jitter buffer and skip
decoding (a browser would decode on its own machine), so the two cores go to the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import psutil
from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from av.video.frame import VideoFrame
from pydantic import SecretStr

from config.video import VideoSettings
from incidents.video_tokens import Role, issue
from tests.support.servers import free_port, wait_port
from video.client import Call, no_ice_servers, publish, watch
from video.pattern import PatternTrack, frame_number
from video.peers import answer_offer
from video.server import running

FPS = 30
STREAM = "bench-cam"
GOAL_P95_MS, GOAL_VIEWERS, GOAL_RSS_MB = 200, 20, 20
ENV_SECRET = "SITROOM_VIDEO__TOKEN_SECRET"


@dataclass(frozen=True)
class Latency:
    """Glass-to-glass samples of one path."""

    path: str
    samples_ms: list[float]

    def p(self, q: float) -> float:
        """Quantile `q` in ms."""
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True)
class Level:
    """N viewers of one stream for a measured window."""

    server: str
    viewers: int
    connected: int
    sent: int
    """Frames the publisher produced in the window."""
    received: list[int]
    """Frames each viewer completed in the window."""
    server_cores: float
    """CPU the server process used, in cores."""

    @property
    def worst(self) -> float:
        """Fraction of the sent frames the worst viewer got."""
        if self.connected < self.viewers or not self.received:
            return 0.0
        return min(self.received) / max(1, self.sent)

    @property
    def ok(self) -> bool:
        """Every viewer connected and got at least 98 % of the frames."""
        return self.worst >= 0.98


@dataclass(frozen=True)
class Result:
    """Everything the benchmark measured."""

    latency: list[Latency]
    levels: list[Level]
    rss_before_mb: float
    rss_after_mb: float
    cycles: int
    load: tuple[float, float, float]
    """Load average when the run ended (the machine is shared)."""

    def sustained(self, server: str) -> int:
        """Most viewers the server carried without loss (0 if none)."""
        return max((lv.viewers for lv in self.levels if lv.server == server and lv.ok),
                   default=0)


# --- child processes ---------------------------------------------------------------------

def _baseline_app() -> web.Application:
    """WHIP/WHEP on aiortc's MediaRelay: decoded frames to each viewer, one encode each."""
    relay, sources, pcs = MediaRelay(), {}, set()

    async def whip(request: web.Request) -> web.Response:
        pc = RTCPeerConnection(no_ice_servers())
        pcs.add(pc)
        answer = await answer_offer(pc, (await request.read()).decode())
        sources[request.match_info["id"]] = next(
            t.receiver.track for t in pc.getTransceivers() if t.kind == "video")
        return web.Response(status=201, text=answer, headers={"Location": "/whip/x/x"})

    async def whep(request: web.Request) -> web.Response:
        pc = RTCPeerConnection(no_ice_servers())
        pcs.add(pc)
        pc.addTransceiver(relay.subscribe(sources[request.match_info["id"]]), "sendonly")
        answer = await answer_offer(pc, (await request.read()).decode())
        location = f"/whep/x/{id(pc)}"
        return web.Response(status=201, text=answer, headers={"Location": location})

    async def end(request: web.Request) -> web.Response:
        for pc in [p for p in pcs if str(id(p)) == request.match_info["s"]]:
            pcs.discard(pc)
            await pc.close()
        return web.Response()

    app = web.Application()
    app.router.add_post("/whip/{id}", whip)
    app.router.add_post("/whep/{id}", whep)
    app.router.add_delete("/{kind}/{id}/{s}", end)
    return app


async def _serve(mode: str, port: int) -> None:
    if mode == "relay":
        settings = VideoSettings(port=port, token_secret=SecretStr(os.environ[ENV_SECRET]))
        async with running(settings, redis_url=None, redis_prefix="bench:"):
            await asyncio.Event().wait()
        return
    runner = web.AppRunner(_baseline_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


class CountingQueue(queue.Queue[Any]):
    """Stands in for a receiver's decoder queue: counts complete frames, decodes none."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Count a frame; pass only the end marker (None) on to the decoder thread."""
        if item is None:
            super().put(None)
        else:
            self.arrivals.append(time.time())


async def _all_connected(pcs: list[RTCPeerConnection], timeout_s: float) -> None:
    """Wait until every connection is up (or the time is over)."""
    changed = asyncio.Event()
    for pc in pcs:
        pc.on("connectionstatechange", changed.set)
    deadline = time.monotonic() + timeout_s
    while any(p.connectionState != "connected" for p in pcs):
        changed.clear()
        try:
            await asyncio.wait_for(changed.wait(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            return


async def _viewers(base: str, count: int) -> None:
    token = os.environ["BENCH_VIDEO_TOKEN"]
    counters: list[CountingQueue] = []
    pcs: list[RTCPeerConnection] = []
    async with aiohttp.ClientSession() as http:
        for _ in range(count):
            pc = RTCPeerConnection(no_ice_servers())
            transceiver = pc.addTransceiver("video", direction="recvonly")
            counter = CountingQueue()
            # aiortc starts its decoder thread on this queue when the connection is up.
            transceiver.receiver.__dict__["_RTCRtpReceiver__decoder_queue"] = counter
            counters.append(counter)
            pcs.append(pc)
            await pc.setLocalDescription(await pc.createOffer())
            async with http.post(f"{base}/whep/{STREAM}", data=pc.localDescription.sdp,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/sdp"}) as response:
                answer = await response.text()
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await _all_connected(pcs, 30)
        connected = sum(p.connectionState == "connected" for p in pcs)
        print(json.dumps({"connected": connected}), flush=True)
        start, end = map(float, (await asyncio.to_thread(sys.stdin.readline)).split())
        await asyncio.sleep(max(0.0, end - time.time()) + 0.5)
        frames = [sum(start <= t < end for t in c.arrivals) for c in counters]
        print(json.dumps({"frames": frames}), flush=True)
        await asyncio.gather(*(p.close() for p in pcs))


# --- orchestration -------------------------------------------------------------------------

async def _start_server(mode: str, secret: str) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.video_bench", "serve", mode, str(port),
        env={**os.environ, ENV_SECRET: secret, "PYTHONPATH": os.getcwd()})
    await asyncio.to_thread(wait_port, port)
    return process, f"http://127.0.0.1:{port}"


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        await process.wait()


async def _read_json(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 120)
    doc: dict[str, Any] = json.loads(line)
    return doc


async def _level(server: str, base: str, pid: int, pattern: PatternTrack, viewers: int,
                 token: str, window_s: float) -> Level:
    split = [viewers - viewers // 2, viewers // 2]
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.video_bench", "viewers", base, str(n),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "BENCH_VIDEO_TOKEN": token, "PYTHONPATH": os.getcwd()})
        for n in split if n]
    try:
        connected = sum([(await _read_json(p))["connected"] for p in procs])
        start = time.time() + 3.0  # settle: keyframes, jitter buffers, rate control
        end = start + window_s
        for p in procs:
            assert p.stdin is not None
            p.stdin.write(f"{start} {end}\n".encode())
            await p.stdin.drain()
        await asyncio.sleep(start - time.time())
        before = psutil.Process(pid).cpu_times()
        await asyncio.sleep(end - time.time())
        after = psutil.Process(pid).cpu_times()
        received = [n for p in procs for n in (await _read_json(p))["frames"]]
    finally:
        for p in procs:
            await _stop(p)
    cores = (after.user + after.system - before.user - before.system) / window_s
    sent = sum(start <= t < end for t in pattern.sent.values())
    return Level(server, viewers, connected, sent, received, cores)


async def _sweep(server: str, mode: str, counts: list[int], window_s: float) -> list[Level]:
    secret = secrets.token_urlsafe(32)
    key = secret.encode()
    process, base = await _start_server(mode, secret)
    levels: list[Level] = []
    try:
        async with aiohttp.ClientSession() as http:
            pattern = PatternTrack(fps=FPS)
            token = issue(key, STREAM, Role.CAMERA, 3600, publish=(STREAM,))
            call = await publish(http, base, STREAM, token, [pattern])
            watcher = issue(key, "bench", Role.LEADER, 3600, may_watch=True)
            for count in counts:
                level = await _level(server, base, process.pid, pattern, count, watcher,
                                     window_s)
                levels.append(level)
                print(f"  {server}: {count} viewers, worst {level.worst:.1%}, "
                      f"server {level.server_cores:.2f} cores", file=sys.stderr, flush=True)
                if not level.ok:
                    break
            await call.pc.close()
    finally:
        await _stop(process)
    return levels


async def _numbers(track: MediaStreamTrack, pattern: PatternTrack, samples: int) -> list[float]:
    found: list[float] = []
    while len(found) < samples:
        frame = await asyncio.wait_for(track.recv(), 10)
        assert isinstance(frame, VideoFrame)
        arrived = time.time()
        number = frame_number(frame)
        if number is not None and number in pattern.sent:
            found.append((arrived - pattern.sent[number]) * 1000)
    return found


async def _first_video(call: Call) -> MediaStreamTrack:
    await asyncio.wait_for(call.track_arrived.wait(), 10)
    return next(t for t in call.tracks if t.kind == "video")


async def _latencies(samples: int) -> list[Latency]:
    secret = secrets.token_urlsafe(32)
    key = secret.encode()
    process, base = await _start_server("relay", secret)
    try:
        async with aiohttp.ClientSession() as http:
            pattern = PatternTrack(fps=FPS)
            token = issue(key, STREAM, Role.CAMERA, 3600, publish=(STREAM,))
            call = await publish(http, base, STREAM, token, [pattern])
            viewer = await watch(http, base, STREAM,
                                 issue(key, "b", Role.LEADER, 3600, may_watch=True), audio=False)
            track = await _first_video(viewer)
            await _numbers(track, pattern, FPS)  # warm-up
            relayed = await _numbers(track, pattern, samples)
            await viewer.pc.close()
            await call.pc.close()
    finally:
        await _stop(process)
    # Baseline: the same pattern straight from one peer to another.
    sender, receiver = RTCPeerConnection(no_ice_servers()), RTCPeerConnection(no_ice_servers())
    pattern = PatternTrack(fps=FPS)
    sender.addTransceiver(pattern, direction="sendonly")
    arrived: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()

    def on_track(track: MediaStreamTrack) -> None:
        if not arrived.done():
            arrived.set_result(track)

    receiver.on("track", on_track)
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    track = await asyncio.wait_for(arrived, 10)
    await _numbers(track, pattern, FPS)
    direct = await _numbers(track, pattern, samples)
    await sender.close()
    await receiver.close()
    return [Latency("publisher → relay → viewer", relayed),
            Latency("publisher → viewer (direct)", direct)]


async def _rss_cycles(cycles: int) -> tuple[float, float]:
    secret = secrets.token_urlsafe(32)
    key = secret.encode()
    process, base = await _start_server("relay", secret)
    try:
        async with aiohttp.ClientSession() as http:
            token = issue(key, STREAM, Role.CAMERA, 3600, publish=(STREAM,))
            call = await publish(http, base, STREAM, token, [PatternTrack(fps=FPS)])
            leader = issue(key, "b", Role.LEADER, 3600, may_watch=True)

            async def cycle() -> None:
                viewer = await watch(http, base, STREAM, leader, audio=False)
                await asyncio.wait_for((await _first_video(viewer)).recv(), 10)
                await viewer.hang_up(http, leader)

            for _ in range(10):
                await cycle()
            before = psutil.Process(process.pid).memory_info().rss / 2**20
            for _ in range(cycles):
                await cycle()
            await asyncio.sleep(1)
            after = psutil.Process(process.pid).memory_info().rss / 2**20
            await call.pc.close()
    finally:
        await _stop(process)
    return before, after


async def _run(quick: bool) -> Result:
    window = 5.0 if quick else 8.0
    latency = await _latencies(150 if quick else 450)
    levels = await _sweep("sitroom relay", "relay",
                          [5, 10, 20] if quick else [5, 10, 20, 25, 30, 40], window)
    levels += await _sweep("aiortc MediaRelay", "mediarelay",
                           [2, 5, 10] if quick else [2, 5, 10, 15, 20], window)
    before, after = await _rss_cycles(100)
    return Result(latency, levels, before, after, 100, os.getloadavg())


def run(quick: bool = False) -> Result:
    """Measure latency, viewer capacity (beside MediaRelay) and RSS after 100 cycles."""
    return asyncio.run(_run(quick))


def report(result: Result) -> str:
    """The figures as tables, with the goals."""
    lines = ["video: 640×480 30 fps VP8 on loopback; server in its own process",
             f"{'path':<30} {'frames':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"]
    for lat in result.latency:
        lines.append(f"{lat.path:<30} {len(lat.samples_ms):>7} {lat.p(0.5):>8.1f}"
                     f" {lat.p(0.95):>8.1f} {lat.p(0.99):>8.1f}")
    lines.append(f"{'server':<20} {'viewers':>7} {'connected':>9} {'worst':>7} {'mean':>7}"
                 f" {'server CPU':>11}")
    for lv in result.levels:
        mean = statistics.mean(lv.received) / max(1, lv.sent) if lv.received else 0.0
        lines.append(f"{lv.server:<20} {lv.viewers:>7} {lv.connected:>9} {lv.worst:>7.1%}"
                     f" {mean:>7.1%} {lv.server_cores:>8.2f} cores")
    relayed = result.latency[0]
    ours, theirs = result.sustained("sitroom relay"), result.sustained("aiortc MediaRelay")
    growth = result.rss_after_mb - result.rss_before_mb
    lines += [
        f"glass-to-glass p95 through the relay: {relayed.p(0.95):.0f} ms "
        f"(direct {result.latency[1].p(0.95):.0f} ms; goal <= {GOAL_P95_MS} ms)",
        f"viewers sustained without loss (>= 98 % of frames each): {ours} vs MediaRelay "
        f"{theirs} (goal >= {GOAL_VIEWERS}; the sweep stops at the first failing level)",
        f"server RSS after {result.cycles} viewer connect/disconnect cycles: "
        f"{result.rss_before_mb:.0f} -> {result.rss_after_mb:.0f} MB ({growth:+.1f} MB; "
        f"goal <= {GOAL_RSS_MB} MB)",
        f"load average at the end: {' '.join(f'{x:.1f}' for x in result.load)} (shared machine)",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "serve":
        asyncio.run(_serve(sys.argv[2], int(sys.argv[3])))
    elif command == "viewers":
        asyncio.run(_viewers(sys.argv[2], int(sys.argv[3])))
    else:
        print(report(run(quick=command == "quick")))
