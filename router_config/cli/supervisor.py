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

The process that validated the config has LiteLLM loaded (~200 MB), which a supervisor
never uses, and spawned workers import everything afresh anyway. So ``serve`` hands over
to a fresh interpreter running only this module (``exec_supervisor``): same pid, so
signals, systemd and container runtimes still reach it, in 31 MB instead of 240. So this
module imports no LiteLLM, FastAPI or config layer: only uvicorn, prometheus-client and
the HTTP protocol's limits.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Mapping
from typing import Any, NoReturn

import uvicorn
from prometheus_client import multiprocess
from uvicorn.supervisors.multiprocess import Multiprocess

from router_config.api.http_protocol import ConnectionLimits, uvicorn_options
from router_config.logs import configure_logging, emit
from router_config.metrics import MULTIPROC_ENV
from router_config.workers import SUPERVISOR_ENV

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


def exec_supervisor(
    target: str, limits: ConnectionLimits, options: Mapping[str, object]
) -> NoReturn:
    """Replace this process with a fresh interpreter that runs ``run_workers`` and loads
    nothing else; what it needs goes along as JSON in its argument."""
    handoff = {"target": target, "limits": dataclasses.asdict(limits), "options": dict(options)}
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [sys.executable, "-m", __name__, json.dumps(handoff)]
    os.execv(sys.executable, argv)


def main(argv: list[str]) -> None:
    """The fresh interpreter's side of ``exec_supervisor``."""
    handoff = json.loads(argv[1])
    limits = ConnectionLimits(**handoff["limits"])
    run_workers(handoff["target"], **handoff["options"], **uvicorn_options(limits))


if __name__ == "__main__":
    main(sys.argv)
