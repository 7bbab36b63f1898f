"""The processes a benchmark measures: each server in its own process, as in production."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running server: the chat completions URL to load, and the bearer key to send."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    key: str
    headers: dict[str, str] = field(default_factory=dict)  # sent with every request

    def peak_rss_mb(self) -> float:
        """Peak resident memory (VmHWM) of the process and every process under it."""
        return sum(_hwm_kb(pid) for pid in _tree(self.proc.pid)) / 1024

    def cpu_seconds(self) -> float:
        """User plus system CPU of the process and every process under it, so far."""
        ticks = sum(_cpu_ticks(Path(f"/proc/{pid}/stat")) for pid in _tree(self.proc.pid))
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start(
    name: str, argv: list[str], port: int, path: str, key: str, env: dict[str, str]
) -> Server:
    """Start ``argv`` and wait until ``/health``-style readiness answers (90 s at most)."""
    log = open(HERE / "results" / f"{name.split()[0]}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        argv, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=HERE
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench: {name} exited at start; see bench/results/*.log")
        try:
            if httpx.get(f"{base}{path}", timeout=1).status_code < 500:
                return Server(name, proc, f"{base}/v1/chat/completions", key)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"bench: {name} did not start within 90 s")


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """User plus system CPU so far of each thread of one process: ``main`` (the event loop)
    and the others by thread id (Python doesn't name OS threads)."""
    return {
        "main" if task.name == str(pid) else task.name: _cpu_ticks(task / "stat")
        / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir()
    }


def _cpu_ticks(stat: Path) -> int:
    """utime + stime from a ``/proc`` stat file (a process's or a thread's); 0 once gone."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime
