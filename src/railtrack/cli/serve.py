"""``railtrack serve`` and ``railtrack demo``: the web app, on a store or on the bundled sample."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Optional

import typer

from ..errors import UsageError
from . import _common


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port(host: str, port: int) -> None:
    """Fail with one readable line (exit 2) when the address cannot be bound."""
    if not 0 < port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _serve(db: Optional[Path], host: str, port: int, rate_limit: Optional[int], max_body: Optional[int],
           watermark_key: Optional[Path], log_level: str, tokenizer: Optional[str] = None) -> None:
    import uvicorn

    from ..web import create_app

    _check_port(host, port)
    if not _is_loopback(host):
        _common.stderr.print(
            f"warning: listening on {host}, not on loopback: anyone who can reach this address can use the app",
            markup=False,
        )
    # on loopback, only loopback Host names are answered (a rebound DNS name is refused)
    allowed = ["127.0.0.1", "localhost", "::1", host] if _is_loopback(host) else None
    # PDF and HTML downloads render in worker processes (RAILTRACK_WEB_RENDER_PROCESSES, default 2)
    import os

    workers = None if os.environ.get("RAILTRACK_WEB_RENDER_PROCESSES", "").strip() else 2
    app = create_app(db, rate_limit=rate_limit, max_body_bytes=max_body, watermark_key=watermark_key,
                     tokenizer=tokenizer, allowed_hosts=allowed, render_processes=workers)
    state = app.state.railtrack
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"
    _common.stdout.print(f"railtrack web app on {url}  (store: {state.db_path or ':memory:'}; Ctrl+C to stop)", markup=False)
    # everything loaded so far (catalogue, templates, libraries) lives as long as the server:
    # keep it out of the cyclic garbage collector, whose full passes would otherwise walk it
    import gc

    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=False, server_header=False,
                timeout_keep_alive=30, backlog=2048)


HostOption = typer.Option("127.0.0.1", "--host", help="Address to listen on (default loopback only).")
PortOption = typer.Option(8000, "--port", help="TCP port.")
RateOption = typer.Option(
    None, "--rate-limit",
    help="Licenses a client may create per minute (0: no limit). Default: $RAILTRACK_WEB_RATE_LIMIT, else 30.",
)
BodyOption = typer.Option(
    None, "--max-body", help="Largest request body in bytes. Default: $RAILTRACK_WEB_MAX_BODY, else 262144."
)
KeyOption = typer.Option(
    None, "--watermark-key", help="Watermark key file: enables the text check page.",
)
TokenizerOption = typer.Option(
    None, "--tokenizer", help="Tokenizer of the watermarked model (folder or cached Hub id). Default: SmolLM2's.",
)
LogOption = typer.Option("info", "--log-level", help="uvicorn log level (critical, error, warning, info, debug).")


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        db: Optional[Path] = _common.DbOption,
        host: str = HostOption,
        port: int = PortOption,
        rate_limit: Optional[int] = RateOption,
        max_body: Optional[int] = BodyOption,
        watermark_key: Optional[Path] = KeyOption,
        tokenizer: Optional[str] = TokenizerOption,
        log_level: str = LogOption,
    ) -> None:
        """Serve the web app (generator, adoption dashboard, model audit, JSON API) on a store."""
        _serve(db, host, port, rate_limit, max_body, watermark_key, log_level, tokenizer)

    @app.command("demo")
    def demo(
        host: str = HostOption,
        port: int = PortOption,
        rebuild: bool = typer.Option(False, "--rebuild", help="Rebuild the sample store even if it exists."),
        build_only: bool = typer.Option(False, "--build-only", help="Build the sample store, print its path, do not serve."),
        rate_limit: Optional[int] = RateOption,
        watermark_key: Optional[Path] = KeyOption,
        tokenizer: Optional[str] = TokenizerOption,
        log_level: str = LogOption,
    ) -> None:
        """Build (once) the bundled sample store and serve the web app on it."""
        from ..sample import build_sample_store

        path = build_sample_store(force=rebuild, progress=True)
        if build_only:
            _common.stdout.print(str(path), markup=False)
            return
        _serve(path, host, port, rate_limit, None, watermark_key, log_level, tokenizer)
