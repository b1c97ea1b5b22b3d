"""In-process CPU cost of one in-app fetch and one impression, without HTTP or a load generator.

The machine running the HTTP benchmark (``bench/inapp_bench.py``) is shared, so
its wall-clock figures are noisy; CPU time per request is not. This seeds a
SQLite store the way the HTTP benchmark does (default 20,000 profiles, three
live in-app messages each), then calls, one after the other in one thread:

* ``service``: ``InAppService.alerts`` directly (store reads, validation, render,
  assembly, signing);
* ``asgi``: the whole ASGI application ``clarion serve`` runs, for
  ``GET /v1/inapp/alerts`` with the profile's device token (auth, routing,
  serialization included; no socket);
* ``feedback``: the ASGI application for ``POST /v1/inapp/feedback`` (impressions).

    python bench/inapp_micro.py [--profiles 20000] [--fetches 3000]

Prints one JSON line: CPU microseconds per call of each (process time, so other
processes on the machine do not count).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.inapp_bench import DEVICE_SECRET, FEEDBACK_KEY, seed, write_tokens
from bench.support import clarion_env, drop_postgres, recreate_postgres
from clarion.api.app import asgi_app
from clarion.config import Settings
from clarion.inapp.device_context import DeviceContext
from clarion.service import Service


def _per_call(calls: int, run: Callable[[int], None]) -> float:
    """CPU microseconds per call of ``run(i)`` for ``i`` in ``range(calls)``."""
    start = time.process_time()
    for i in range(calls):
        run(i)
    return round((time.process_time() - start) / calls * 1e6, 1)


class _Asgi:
    """Calls an ASGI app with one request and collects the response."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    def per_call(self, calls: int, run: Callable[[int], Awaitable[None]]) -> float:
        """CPU microseconds per ``await run(i)``, all in one run of the loop as under
        uvicorn (the thread pool keeps its threads; a loop run per request would
        start a thread each time)."""

        async def everything() -> None:
            for i in range(calls):
                await run(i)

        start = time.process_time()
        self.loop.run_until_complete(everything())
        return round((time.process_time() - start) / calls * 1e6, 1)

    async def call(
        self,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes = b"",
    ) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8080),
            "state": {},
        }
        sent = False
        out: dict[str, Any] = {"body": b""}

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
            else:
                out["body"] += message.get("body", b"")

        await self.app(scope, receive, send)
        return out["status"], out["body"]


def main(profiles: int, fetches: int, database_url: str | None = None) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="clarion-inapp-micro-") as tmp:
        d = Path(tmp)
        url = database_url or f"sqlite:///{d / 'clarion.db'}"
        if database_url:
            recreate_postgres(database_url)
        try:
            return _run(url, d, profiles, fetches)
        finally:
            if database_url:
                drop_postgres(database_url)


def _run(url: str, d: Path, profiles: int, fetches: int) -> dict[str, object]:
    """Seed ``url``, build the service ``clarion serve --no-workers`` would, measure."""
    seed(url, profiles)
    tokens = [line.split(": ", 1)[1] for line in write_tokens(d / "tokens.txt", profiles)]
    env = clarion_env(url, d / "sink.jsonl")
    settings = Settings.model_validate(
        {
            "database_url": url,
            "catalog": env["CLARION_CATALOG"],
            "api_keys": env["CLARION_API_KEYS"],
            "providers": json.loads(env["CLARION_PROVIDERS"]),
            "device_token_secrets": {"default": DEVICE_SECRET},
            "feedback_keys": {"bench": FEEDBACK_KEY},
            "run_workers": False,
        }
    )
    service = Service(settings)
    try:
        return _measure(service, tokens, profiles, fetches)
    finally:
        service.store.close()


def _measure(service: Service, tokens: list[str], profiles: int, fetches: int) -> dict[str, object]:
    rng = random.Random(5)
    picks = [rng.randrange(profiles) for _ in range(fetches)]
    asgi = _Asgi(asgi_app(service))

    def direct(i: int) -> None:
        k = picks[i]
        service.inapp.alerts(f"p{k}", DeviceContext("web", f"d{k}", None, "en"))

    bodies: list[tuple[int, bytes]] = []

    async def fetch(i: int) -> None:
        k = picks[i]
        status, body = await asgi.call(
            "GET",
            "/v1/inapp/alerts",
            f"platform=web&deviceId=d{k}&locale=en",
            [(b"host", b"x"), (b"authorization", tokens[k].encode())],
        )
        assert status == 200, body
        if len(bodies) < fetches:
            bodies.append((k, body))

    warm = min(300, fetches)  # warm-up: caches, code paths, page cache
    _per_call(warm, direct)
    asgi.per_call(warm, fetch)
    bodies.clear()
    service_us = _per_call(fetches, direct)
    asgi_us = asgi.per_call(fetches, fetch)
    posts = []
    for k, body in bodies:
        context = {"platform": "web", "deviceId": f"d{k}", "appVersion": "1.0.0"}
        for alert in orjson.loads(body)["alerts"]:
            feedback = {"feedback": alert["attributes"]["impressionFeedback"], "context": context}
            posts.append((k, orjson.dumps(feedback)))

    async def post(i: int) -> None:
        k, body = posts[i]
        status, out = await asgi.call(
            "POST",
            "/v1/inapp/feedback",
            "",
            [
                (b"host", b"x"),
                (b"authorization", tokens[k].encode()),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            body,
        )
        assert status == 200, out

    feedback_us = asgi.per_call(len(posts), post)
    return {
        "bench": f"inapp_micro_{service.store.dialect}",
        "profiles": profiles,
        "fetches": fetches,
        "cpu_us_per_call": {"service": service_us, "asgi": asgi_us, "feedback": feedback_us},
        "feedback_posts": len(posts),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument("--fetches", type=int, default=3_000)
    parser.add_argument("--database-url", help="PostgreSQL URL (its database is recreated)")
    args = parser.parse_args()
    print(json.dumps(main(args.profiles, args.fetches, args.database_url)))
