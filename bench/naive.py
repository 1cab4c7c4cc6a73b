"""The naive baseline consumer: one INSERT, one PUBACK and one receipt per message."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import datetime
from typing import Any

import asyncpg
from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


async def consume(port: int, root: str, dsn: str) -> None:
    """Consume until cancelled, storing each message in its own transaction."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[MQTTMessage] = asyncio.Queue()
    client = Client(CallbackAPIVersion.VERSION2, client_id=f"naive-{uuid.uuid4().hex[:6]}",
                    protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True)

    def on_message(c: Client, userdata: Any, message: MQTTMessage) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, message)

    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe(f"{root}/+/+/+", qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    conn = await asyncpg.connect(dsn)
    try:
        while True:
            message = await queue.get()
            doc = json.loads(message.payload)
            await conn.execute(
                "INSERT INTO positions (id, unit, agency, source, ts, lat, lon, speed, heading,"
                " received_at) VALUES ($1, $2, 'police', $3, $4, $5, $6, $7, $8, now())"
                " ON CONFLICT (id) DO NOTHING",
                doc["id"], doc["unit"], message.topic.rsplit("/", 1)[-1],
                datetime.fromisoformat(doc["ts"]), doc["lat"], doc["lon"], doc.get("speed"),
                doc.get("heading"),
            )
            client.ack(message.mid, 1)
            source = message.topic.rsplit("/", 1)[-1]
            client.publish(f"{root}/receipts/{source}",
                           json.dumps({"ids": [doc["id"]], "committed_at": time.time()}), qos=1)
    finally:
        await conn.close()
        client.disconnect()
        client.loop_stop()


def main() -> None:
    """Entry point: run the naive consumer until SIGTERM."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--dsn", required=True)
    args = parser.parse_args()
    try:
        asyncio.run(consume(args.port, args.root, args.dsn))
    except KeyboardInterrupt:
        pass  # the benchmark stops us with SIGINT


if __name__ == "__main__":
    main()
