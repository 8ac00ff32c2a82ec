"""Per-app state: the store connection, a write lock, the render cache and worker processes, the rate limiters."""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import duckdb
from fastapi import Request

from .security import RateLimiter


#: Formats whose rendering costs milliseconds of pure-Python CPU (PDF ~25 ms, HTML ~10 ms).
#: With ``render_processes`` set they render in worker processes, so that they never hold
#: the server's GIL while the event loop has requests to answer.
HEAVY_FORMATS = frozenset({"pdf", "html"})


def _warm_render_worker() -> None:
    """Worker initializer: import the renderers and render one license in each heavy format
    (fonts, templates, QR code machinery), so the first real request does not pay for it."""
    from ..licenses import manifest as M
    from ..licenses import render

    spec = M.parse_manifest({"name": "Warm-up", "licensor": "railtrack", "flavor": "open", "artifacts": ["model"]})
    for fmt in sorted(HEAVY_FORMATS):
        render(spec, fmt)


class RenderCache:
    """A bounded LRU of rendered license bytes keyed by ``(license id, format)``.

    Rendering is deterministic (the same manifest always gives the same bytes), so a cached
    copy is exactly what a fresh render would produce; the cache only saves the CPU time.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, str], value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._items[key] = value
            self._size += len(value)
            while self._size > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class WebState:
    """What the routes share. ``con`` is the app's DuckDB connection; routes use cursors.

    The connection is opened by :func:`create_app` and closed when the server shuts down
    (file stores only); a later request (a test client started again) reopens it.
    """

    _con: duckdb.DuckDBPyConnection | None
    db_path: Path | None
    license_limiter: RateLimiter
    preview_limiter: RateLimiter
    max_body_bytes: int
    watermark_key: Path | None = None
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    renders: RenderCache = field(default_factory=RenderCache)
    #: recorded license specs by id (content-addressed, immutable), so downloads skip the store
    specs: "OrderedDict[str, Any]" = field(default_factory=OrderedDict)
    #: one thread writes to the store, in arrival order (request threads never block on it)
    writer: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="railtrack-store-writer"))
    #: licenses waiting for the writer thread's next group commit: (spec, future)
    pending: list[Any] = field(default_factory=list)
    pending_lock: threading.Lock = field(default_factory=threading.Lock)
    extras: dict[str, Any] = field(default_factory=dict)
    _open_lock: threading.Lock = field(default_factory=threading.Lock)
    #: worker processes for :data:`HEAVY_FORMATS` (0: render them in the request threadpool)
    render_processes: int = 0
    _render_pool: ProcessPoolExecutor | None = None
    _pool_lock: threading.Lock = field(default_factory=threading.Lock)

    def render_pool(self) -> ProcessPoolExecutor | None:
        """The render worker processes (started on first use, warmed up); ``None`` when off."""
        if self.render_processes <= 0:
            return None
        with self._pool_lock:
            if self._render_pool is None:
                # spawn, not fork: the server process has threads (store writer, DuckDB)
                self._render_pool = ProcessPoolExecutor(
                    max_workers=self.render_processes, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_warm_render_worker)
                for _ in range(self.render_processes):  # start every worker now, not on demand
                    self._render_pool.submit(int)
            return self._render_pool

    def drop_render_pool(self, pool: ProcessPoolExecutor) -> None:
        """Forget a broken pool (a worker died); the next heavy render starts a fresh one."""
        with self._pool_lock:
            if self._render_pool is pool:
                self._render_pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            from ..store import connect

            with self._open_lock:
                if self._con is None:
                    self._con = connect(self.db_path)
        return self._con

    def close(self) -> None:
        """Finish pending writes; close a file store's connection (an in-memory store is kept)."""
        self.writer.shutdown(wait=True)
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="railtrack-store-writer")
        with self._pool_lock:
            pool, self._render_pool = self._render_pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._con is not None and self.db_path is not None:
            with self._open_lock:
                con, self._con = self._con, None
            if con is not None:
                con.close()

    def remember(self, lid: str, spec: Any, limit: int = 20_000) -> None:
        """Keep a recorded spec in memory (bounded, least recently used dropped first)."""
        self.specs[lid] = spec
        self.specs.move_to_end(lid)
        while len(self.specs) > limit:
            self.specs.popitem(last=False)

    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of the shared connection, safe to use from the calling thread only."""
        cur = self.con.cursor()
        try:
            yield cur
        finally:
            cur.close()


def get_state(request: Request) -> WebState:
    return request.app.state.railtrack
