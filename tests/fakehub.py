"""A small real HTTP server that behaves like the Hub's ``/api/models`` list endpoint.

It serves models newest-``lastModified`` first, ``limit`` per page, with GitHub-style
``Link: <...>; rel="next"`` cursor pagination, answers only the ``expand`` fields asked
for, and injects faults on chosen request numbers:

* ``"429"``: Too Many Requests with ``Retry-After: 0``;
* ``"429-ratelimit"``: Too Many Requests with ``RateLimit: "api";r=0;t=0`` and
  ``RateLimit-Policy`` headers (the IETF draft the Hub uses);
* ``"500"``/``"502"``/``"503"``: server errors;
* ``"drop"``: the connection is closed without any response;
* ``"slow"``: the page is served after ``slow_seconds``.

Run it standalone (for a subprocess test or by hand)::

    python tests/fakehub.py --models 50 --port 0    # prints the URL on stdout
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

LICENSES = ["apache-2.0", "mit", "llama2", "openrail", "creativeml-openrail-m", "other", None, None]


def make_models(n: int, start: dt.datetime | None = None, prefix: str = "org") -> list[dict[str, Any]]:
    """``n`` models in the list API's JSON shape, one minute apart, with known licenses."""
    start = start or dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    out = []
    for i in range(n):
        lic = LICENSES[i % len(LICENSES)]
        mid = f"{prefix}{i % 5}/model-{i:05d}"
        tags = ["transformers", "region:us"] + ([f"license:{lic}"] if lic else [])
        card: dict[str, Any] = {"license": lic} if lic else {}
        if lic == "other":
            card["license_name"] = "Llama 2 Community License Agreement"
        if i % 3 == 0 and i > 0:
            base = f"{prefix}0/model-00000"
            card["base_model"] = base
            tags += [f"base_model:{base}", f"base_model:finetune:{base}"]
        t = start + dt.timedelta(minutes=i)
        out.append({
            "_id": f"{i:024x}", "id": mid, "modelId": mid, "author": mid.split("/")[0],
            "createdAt": (start - dt.timedelta(days=30) + dt.timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "lastModified": t.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "downloads": 10 * i, "downloadsAllTime": 30 * i, "likes": i % 7, "gated": False,
            "library_name": "transformers", "pipeline_tag": "text-generation", "tags": tags,
            "cardData": card or None, "private": False,
            "siblings": [{"rfilename": "README.md"}, {"rfilename": "config.json"}]
                        + ([{"rfilename": "LICENSE"}] if lic == "other" else []),
        })
    return out


class FakeHub:
    """The fake Hub server (a ``ThreadingHTTPServer`` on 127.0.0.1 in a daemon thread)."""

    def __init__(self, models: list[dict[str, Any]], *, faults: dict[int, str] | None = None,
                 slow_seconds: float = 0.0, port: int = 0) -> None:
        self.lock = threading.Lock()
        self.models = list(models)
        self.faults = dict(faults or {})
        self.slow_seconds = slow_seconds
        self.requests: list[dict[str, Any]] = []
        self.pages_served = 0
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802
                hub._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeHub":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_models(self, models: list[dict[str, Any]]) -> None:
        with self.lock:
            self.models = list(models)

    # ------------------------------------------------------------------ serving
    def _sorted(self) -> list[dict[str, Any]]:
        return sorted(self.models, key=lambda m: (m["lastModified"], m["id"]), reverse=True)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parsed = urlparse(h.path)
        query = parse_qs(parsed.query)
        with self.lock:
            n = len(self.requests) + 1
            self.requests.append({"n": n, "path": parsed.path, "query": query,
                                  "authorization": h.headers.get("authorization")})
            fault = self.faults.pop(n, None)
        if parsed.path != "/api/models":
            self._send(h, 404, {"error": "not found"})
            return
        if fault == "drop":
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            h.close_connection = True
            return
        if fault == "429":
            self._send(h, 429, {"error": "Too Many Requests"}, {"Retry-After": "0"})
            return
        if fault == "429-ratelimit":
            self._send(h, 429, {"error": "Too Many Requests"},
                       {"RateLimit": '"api";r=0;t=0', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'})
            return
        if fault in ("500", "502", "503"):
            self._send(h, int(fault), {"error": "server error"})
            return
        if fault == "slow" or self.slow_seconds:
            time.sleep(self.slow_seconds or 1.0)
        limit = int((query.get("limit") or ["1000"])[0])
        limit = max(1, min(limit, 1000))
        offset = int((query.get("cursor") or ["0"])[0])
        expand = query.get("expand") or []
        with self.lock:
            ordered = self._sorted()
        search = (query.get("search") or [None])[0]
        if search:
            ordered = [m for m in ordered if search in m["id"]]
        page = ordered[offset:offset + limit]
        body = [self._project(m, expand) for m in page]
        headers = {}
        if offset + limit < len(ordered):
            q = {k: v for k, v in query.items() if k != "cursor"}
            q["cursor"] = [str(offset + limit)]
            host, port = self.server.server_address[:2]
            headers["Link"] = f'<http://{host}:{port}/api/models?{urlencode(q, doseq=True)}>; rel="next"'
        with self.lock:
            self.pages_served += 1
        self._send(h, 200, body, headers)

    @staticmethod
    def _project(model: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        if not expand:
            keep = {"_id", "id", "modelId", "likes", "downloads", "tags", "pipeline_tag", "library_name",
                    "createdAt", "private"}
        else:
            keep = {"_id", "id"} | set(expand)
        return {k: v for k, v in model.items() if k in keep}

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def main() -> None:  # pragma: no cover - manual use
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--slow", type=float, default=0.0)
    args = ap.parse_args()
    hub = FakeHub(make_models(args.models), slow_seconds=args.slow, port=args.port).start()
    print(hub.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        hub.stop()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
