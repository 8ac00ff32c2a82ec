"""Security plumbing of the web app: body size limit, security headers, rate limiting.

Everything here is plain ASGI / FastAPI machinery with no railtrack logic in it:

- :class:`BodySizeLimitMiddleware` refuses request bodies larger than a limit with a 413,
  whether the client announced the size (``Content-Length``) or streams it (chunked).
- :class:`SecurityHeadersMiddleware` adds a strict Content-Security-Policy (no inline
  script, no inline style, nothing from another origin) and the usual hardening headers.
- :class:`RateLimiter` is a per-client token bucket used as a dependency on the routes
  that create licenses; ``0`` disables it (the load benchmark runs that way).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable

from fastapi import HTTPException, Request

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The policy of every HTML page and API response: only this origin, no inline code.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
#: SVG charts are standalone documents with their own ``<style>`` element (matplotlib
#: writes one); scripts stay forbidden, and browsers never run script in ``<img>`` SVG.
CSP_SVG = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'"


async def _send_json(send: Send, status: int, payload: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(payload).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw + (headers or [])})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimitMiddleware:
    """Reject request bodies over ``max_bytes`` with ``413`` and a readable JSON message."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        message = f"request body too large: the limit is {self.max_bytes} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, {"detail": "invalid Content-Length header"})
                    return
                if declared > self.max_bytes:
                    await _send_json(send, 413, {"detail": message})
                    return
        received = 0
        started = False
        rejected = False

        async def limited_receive() -> Message:
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > self.max_bytes:
                    # Answer 413 now; the app sees a disconnected client and its own
                    # response (if any) is dropped.
                    rejected = True
                    if not started:
                        await _send_json(send, 413, {"detail": message})
                    return {"type": "http.disconnect"}
            return msg

        async def guarded_send(msg: Message) -> None:
            nonlocal started
            if rejected:
                return
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        await self.app(scope, limited_receive, guarded_send)


class SecurityHeadersMiddleware:
    """Add CSP and hardening headers to every HTTP response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = b""
                for name, value in headers:
                    if name.lower() == b"content-type":
                        content_type = value
                csp = CSP_SVG if content_type.startswith(b"image/svg+xml") else CSP
                extra = [
                    (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"cross-origin-resource-policy", b"same-origin"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
                ]
                headers.extend((k, v) for k, v in extra if k not in present)
                msg = dict(msg, headers=headers)
            await send(msg)

        await self.app(scope, receive, send_with_headers)


class RateLimiter:
    """A per-client token bucket: ``per_minute`` requests a minute, bursts up to ``burst``.

    Used as a FastAPI dependency (``Depends(limiter)``). ``per_minute <= 0`` disables it.
    The client is identified by its address as the ASGI server reports it; behind a
    reverse proxy, run uvicorn with ``--proxy-headers`` so that this is the real client.
    At most ``max_clients`` buckets are kept (least recently seen are dropped).
    """

    def __init__(self, per_minute: int, burst: int | None = None, *, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = int(per_minute)
        self.burst = int(burst) if burst is not None else max(1, min(self.per_minute, 20))
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def check(self, client: str) -> float:
        """Take one token for ``client``; return 0 if allowed, else seconds until the next token."""
        if not self.enabled:
            return 0.0
        rate = self.per_minute / 60.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[client] = (tokens, now)
                wait = (1.0 - tokens) / rate
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait

    def __call__(self, request: Request) -> None:
        client = request.client.host if request.client else "unknown"
        wait = self.check(client)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise HTTPException(
                status_code=429,
                detail=f"too many licenses created from this address: at most {self.per_minute} a minute; retry in {retry} s",
                headers={"Retry-After": str(retry)},
            )


_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class SameOriginMiddleware:
    """Refuse cross-site state-changing requests (CSRF) and unexpected Host headers (DNS rebinding).

    A browser says where a request comes from (``Sec-Fetch-Site``; older ones only send
    ``Origin``); POST/PUT/PATCH/DELETE requests that do not come from this origin (or from
    the user's own action) get 403. Clients that are not
    browsers (curl, scripts) send neither and are not affected. When ``allowed_hosts`` is
    given (``railtrack serve`` on loopback passes the loopback names), any other ``Host``
    gets 400: a page on a rebound DNS name cannot talk to the local server.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: list[str] | None = None) -> None:
        self.app = app
        self.allowed_hosts = {h.lower() for h in allowed_hosts} if allowed_hosts else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        hostname = hostname.strip("[]").lower()
        if self.allowed_hosts is not None and hostname not in self.allowed_hosts:
            await _send_json(send, 400, {"detail": f"unexpected Host header {host!r}"})
            return
        if scope.get("method", "GET") in _UNSAFE_METHODS:
            site = headers.get("sec-fetch-site")
            origin = headers.get("origin")
            if site is not None:
                # what the browser itself says: only this origin, or the user's own action
                cross = site not in ("same-origin", "none")
            elif origin and origin != "null":
                from urllib.parse import urlsplit

                cross = urlsplit(origin).netloc.lower() != host.lower()
            else:
                cross = False  # not a browser (curl, scripts), or one that tells nothing
            if cross:
                await _send_json(send, 403, {"detail": "cross-site request refused"})
                return
        await self.app(scope, receive, send)
