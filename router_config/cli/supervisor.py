"""``llm-router serve --workers N``: uvicorn's supervisor, with reloads that reach every worker.

uvicorn's own supervisor answers SIGHUP by starting a replacement for each worker
and aborts the whole restart when one is not ready within its health-check
timeout (importing LiteLLM alone can take longer), so old workers go on serving
the old config with only a log line to say so. Our gateway reloads in place
(``live``), so the supervisor here forwards SIGHUP to every worker instead: each
validates and swaps in the new config itself, or keeps the old one and logs
``reload_failed``. ``POST /admin/reload`` on any worker asks the supervisor to do
the same. It also gives the workers one prometheus-client multiprocess directory,
so ``/metrics`` adds up every worker (``metrics``), and marks dead workers in it.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from typing import Any

import uvicorn
from prometheus_client import multiprocess
from uvicorn.supervisors.multiprocess import Multiprocess

from router_config.live import SUPERVISOR_ENV
from router_config.logs import configure_logging, emit
from router_config.metrics import MULTIPROC_ENV

# A worker is "alive" while it answers the supervisor's pings within this; a fresh worker
# importing LiteLLM on a busy machine needs more than uvicorn's default 5 s.
HEALTHCHECK_S = 30


class ReloadingSupervisor(Multiprocess):
    """uvicorn's ``Multiprocess``, but SIGHUP reloads every worker in place."""

    def handle_hup(self) -> None:
        pids = [p.pid for p in self.processes if p.pid is not None and p.process.is_alive()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGHUP)
            except ProcessLookupError:  # exited since: its replacement reads the new file
                continue
        emit("reload_forwarded", workers=len(pids))

    def keep_subprocess_alive(self) -> None:
        before = {p.pid for p in self.processes}
        super().keep_subprocess_alive()
        folder = os.environ.get(MULTIPROC_ENV)
        for pid in before - {p.pid for p in self.processes}:
            if folder and pid is not None:
                multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]


def run_workers(target: str, **options: Any) -> None:
    """Serve ``target`` (a uvicorn app factory path) with ``options['workers']`` processes."""
    configure_logging()
    folder = tempfile.mkdtemp(prefix="llm-router-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    os.environ[SUPERVISOR_ENV] = str(os.getpid())
    options.setdefault("timeout_worker_healthcheck", HEALTHCHECK_S)
    config = uvicorn.Config(target, **options)
    sock = config.bind_socket()
    try:
        ReloadingSupervisor(config, sockets=[sock]).run()
    finally:
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)
