"""`spendscope serve`: one process that owns the warehouse, runs the jobs, and answers HTTP.

DuckDB lets one process open a database file for writing, and then no other process may open it even
read-only. So the service opens it once, before anything else: a second `serve`, or a CLI command
needing the file meanwhile, fails at once with "warehouse in use by pid N; use the running service's API
or stop it" (``WarehouseInUse``). The jobs, the metrics and the API share that one database instance,
each with cursors of their own.

SIGTERM or SIGINT: the HTTP server stops, no job starts any more, the running one gets
[service] shutdown_timeout_s to finish (else its query is interrupted and its transaction rolls back),
the warehouse is closed, and the process exits 0.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from types import FrameType

from spendscope.config import Settings
from spendscope.errors import ConfigError, SpendscopeError
from spendscope.service.logs import configure_json_logging
from spendscope.warehouse.db import cursor, open_warehouse

__all__ = ["parse_listen", "run_service"]

log = logging.getLogger(__name__)

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8484`` for IPv6) → (host, port); ConfigError otherwise."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"listen {text!r}: use HOST:PORT, e.g. 127.0.0.1:8484", source="[service] listen")
    return host, int(port)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SpendscopeError(f"cannot listen: {exc.strerror}", source=f"{host}:{port}") from None
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def run_service(settings: Settings, *, listen: str | None = None) -> None:
    """Serve until SIGTERM/SIGINT (see the module doc); returns after a clean stop.

    Raises WarehouseInUse when another process holds the warehouse, SpendscopeError when the address
    cannot be bound, ConfigError for a bad listen address.
    """
    import uvicorn
    from prometheus_client import CollectorRegistry

    from spendscope.exporters.metrics import CostMetricsCollector
    from spendscope.service.api import create_app
    from spendscope.service.scheduler import ServiceScheduler

    host, port = parse_listen(listen or settings.service.listen)
    configure_json_logging()
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    conn = open_warehouse(settings.warehouse, settings=settings.duckdb.warehouse_settings())
    try:
        sock = _bind(host, port)
    except SpendscopeError:
        conn.close()
        raise
    if host not in _LOOPBACK and settings.api_token is None:
        log.warning("listening on %s without api_token: the API answers anyone who can reach it", host)
    registry = CollectorRegistry()
    metrics = CostMetricsCollector(connect=lambda: cursor(conn), release=lambda c: c.close(), settings=settings.metrics)
    registry.register(metrics)
    scheduler = ServiceScheduler(conn, settings, metrics=metrics)
    app = create_app(conn, settings, status=scheduler, registry=registry)
    config = uvicorn.Config(app, log_config=None, lifespan="off", timeout_graceful_shutdown=5, server_header=False)
    server = uvicorn.Server(config)
    http = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="http", daemon=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal received signal=%s", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    clean = False
    try:
        http.start()
        scheduler.start()
        log.info(
            "serving warehouse=%s url=http://%s:%d pid=%d jobs=%s",
            settings.warehouse,
            host,
            port,
            os.getpid(),
            ",".join(scheduler.specs),
        )
        while not stop.wait(1.0):
            pass
    finally:
        server.should_exit = True
        clean = scheduler.stop(settings.service.shutdown_timeout_s)
        if http.is_alive():
            http.join(timeout=10)
        sock.close()
        if clean:
            conn.close()
    if not clean:  # a job stuck outside DuckDB: its transaction was never committed, so leaving is safe
        log.error("a job did not stop in time; exiting without waiting for it")
        logging.shutdown()
        os._exit(0)
    log.info("stopped")
