"""Real servers for the benchmark: gunicorn (the app, or the hello baseline) and wrk.

gunicorn runs with ``gunicorn.conf.py``, the settings the README recommends for
one machine, so the figures describe what production would do. wrk is the load
client (Debian's package); it runs on the same two cores as the server, which is
why every figure is a ratio to the hello baseline measured the same way.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .common import ROOT

GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A running gunicorn: its address, and the peak memory of its workers."""

    url: str
    process: subprocess.Popen
    peak_rss_kb: dict[int, int] = field(default_factory=dict)

    def workers(self) -> list[int]:
        """The worker processes' ids: the processes whose parent is the gunicorn master."""
        workers = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            if re.search(rf"^PPid:\s+{self.process.pid}$", text, re.MULTILINE):
                workers.append(int(status.parent.name))
        return workers

    def sample_memory(self) -> None:
        """Record each worker's peak resident memory so far (VmHWM, kept by the kernel)."""
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
            if match:
                self.peak_rss_kb[pid] = max(self.peak_rss_kb.get(pid, 0), int(match.group(1)))

    def cpu_seconds(self) -> float:
        """CPU time the workers have used so far, user and system: the live ones'
        own, plus what the master was credited when it reaped retired ones (a
        worker is replaced every ``max_requests``)."""
        ticks = _ticks(self.process.pid, children=True)
        for pid in self.workers():
            ticks += _ticks(pid)
        return ticks / os.sysconf("SC_CLK_TCK")

    @property
    def peak_worker_rss_mb(self) -> float:
        return max(self.peak_rss_kb.values(), default=0) / 1024


def _ticks(pid: int, children: bool = False) -> int:
    """utime + stime of ``pid`` in clock ticks (or cutime + cstime: its reaped children's),
    from /proc/<pid>/stat; 0 for a process that has gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = stat.rpartition(")")[2].split()
    first = 13 if children else 11  # utime is field 14 of proc(5), cutime field 16
    return int(fields[first]) + int(fields[first + 1])


@contextmanager
def gunicorn(app_spec: str, env: dict) -> Iterator[Server]:
    """Serve ``app_spec`` (``module:app``) with gunicorn.conf.py on a free loopback port."""
    port = free_port()
    command = [
        str(GUNICORN),
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--no-control-socket",
        # No access log, as gunicorn.conf.py has none: even to /dev/null, gunicorn
        # formats a line per request (4% of a worker's time on the form page).
        "--error-logfile",
        str(ROOT / "bench" / ".data" / "gunicorn.log"),
        app_spec,
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    server = Server(url=f"http://127.0.0.1:{port}", process=process)
    try:
        _wait_for(port, process)
        yield server
        server.sample_memory()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see bench/.data/")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start listening in time")


@dataclass
class WrkResult:
    requests_per_second: float
    requests: int
    seconds: float
    errors: int  # non-2xx/3xx responses plus socket errors
    latency_p50_ms: float
    output: str


def wrk(
    url: str,
    seconds: float,
    *,
    script: Path | None = None,
    headers: dict[str, str] | None = None,
    connections: int = 10,
    threads: int = 2,
    env: dict | None = None,
) -> WrkResult:
    """Run wrk against ``url`` and read its summary."""
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed (make bench installs it with apt-get)")
    command = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, env={**os.environ, **(env or {})}
    ).stdout
    summary = re.search(r"(\d+) requests in ([\d.]+)(m?s|m)\b", out)
    if summary is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    requests = int(summary.group(1))
    duration = float(summary.group(2)) * {"s": 1, "ms": 0.001, "m": 60}[summary.group(3)]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return WrkResult(
        requests_per_second=rate,
        requests=requests,
        seconds=duration,
        errors=errors,
        latency_p50_ms=_latency(out, "50%"),
        output=out,
    )


def _latency(out: str, percentile: str) -> float:
    match = re.search(rf"^\s+{re.escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    if not match:
        return float("nan")
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
