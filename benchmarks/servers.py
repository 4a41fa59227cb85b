"""Start and stop the servers under test on loopback; cold start and memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import yaml

from benchmarks.loadgen import run_load


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    base: str
    cold_start_s: float

    def _tree(self) -> list[psutil.Process]:
        root = psutil.Process(self.proc.pid)
        return [p for p in [root, *root.children(recursive=True)] if p.is_running()]

    def rss_mb(self) -> float:
        """Resident memory of the server and all its worker processes (sum of RSS: a page of a
        shared library that every worker maps counts once per worker)."""
        return sum(p.memory_info().rss for p in self._tree()) / 2**20

    def pss_mb(self) -> float:
        """The same processes' proportional set size: each shared page split between the
        processes that map it, so the sum is the memory the service really occupies."""
        return sum(p.memory_full_info().pss for p in self._tree()) / 2**20

    def cpu_seconds(self) -> dict[int, float]:
        """CPU seconds (user + system) so far, per process of the server."""
        out = {}
        for p in self._tree():
            try:
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
            except psutil.NoSuchProcess:
                continue
        return out

    def busiest_share(self, before: dict[int, float]) -> float | None:
        """Of the CPU the server's processes used since `before`, the share of the busiest one:
        ~0.5 when two workers split the load, ~1.0 when one worker got every connection."""
        used = [t - before.get(pid, 0.0) for pid, t in self.cpu_seconds().items()]
        total = sum(used)
        return round(max(used) / total, 3) if total > 0 else None

    def load(self, path: str, payload: dict, concurrency: int, seconds: float) -> dict:
        """One load point on `path`, with the busiest process's share of the server's CPU in it.
        Keep-alive connections stay on the worker that accepted them: a point where one worker
        took them all reads ~1.0 there (and about half the req/s of a shared one)."""
        before = self.cpu_seconds()
        point = run_load(self.base + path, payload, concurrency, seconds).as_dict()
        point["busiest_process_cpu_share"] = self.busiest_share(before)
        return point

    def memory(self) -> dict[str, float]:
        return {"rss_mb": round(self.rss_mb(), 1), "pss_mb": round(self.pss_mb(), 1)}

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def settings_variant(env: dict, label: str, changes: dict) -> dict:
    """`env` pointing at a copy of its settings file with `changes` merged in, nested keys and
    all (e.g. {"serving": {"workers": 1}}): one server configured differently."""
    path = Path(env["CCRISK_SETTINGS"])
    variant = path.with_name(f"mlflow-{label}.yaml")
    variant.write_text(yaml.safe_dump(_merged(yaml.safe_load(path.read_text()), changes)))
    return {**env, "CCRISK_SETTINGS": str(variant)}


def _merged(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        nested = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = _merged(base[key], value) if nested else value
    return out


def start(
    name: str,
    cmd: list[str],
    ready_path: str,
    port: int,
    env: dict,
    log: Path,
    ready_line: str,
    workers: int,
    timeout_s: float = 300,
) -> Server:
    """Launch `cmd`; ready when `ready_path` answers 200 and the log shows `ready_line` once per
    worker (a server answers as soon as its first worker is up; a client's keep-alive
    connections opened before the others are would all stay on that one). The wait is the
    cold start."""
    begin = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    while time.perf_counter() - begin < timeout_s:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]  # the log's folder may be a temporary one
            raise RuntimeError(f"{name} exited with {proc.returncode}; log {log} ends:\n{tail}")
        try:
            up = httpx.get(base + ready_path, timeout=2).status_code == 200
            if up and log.read_text(errors="replace").count(ready_line) >= workers:
                return Server(name, proc, base, time.perf_counter() - begin)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    Server(name, proc, base, 0).stop()
    tail = log.read_text(errors="replace")[-3000:]  # the log's folder may be a temporary one
    raise RuntimeError(
        f"{name} not ready after {timeout_s}s ({ready_line!r} seen "
        f"{tail.count(ready_line)} of {workers} times near the end); log {log} ends:\n{tail}"
    )


def start_ccrisk(env: dict, log: Path, workers: int) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "ccrisk", "serve", "--port", str(port)]
    return start("ccrisk (BentoML)", cmd, "/readyz", port, env, log, "Service ccrisk initialized", workers)


def start_floor(env: dict, log: Path, workers: int) -> Server:
    """BentoML with the claim endpoint's types and a constant answer (benchmarks/floor_service.py)."""
    port = free_port()
    cmd = [sys.executable, "-m", "bentoml", "serve", "benchmarks.floor_service:Floor", "--host", "127.0.0.1"]
    cmd += ["--port", str(port)]
    ready = "Service floor initialized"
    return start("framework floor (BentoML)", cmd, "/readyz", port, env, log, ready, workers)


def start_mlflow(model_uri: str, env: dict, log: Path, workers: int) -> Server:
    """`mlflow models serve` with as many uvicorn workers as ccrisk has: equal resources."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        str(workers),
    ]
    path = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # it execs `uvicorn`
    env = {**env, "PATH": path}
    return start("mlflow models serve", cmd, "/ping", port, env, log, "Application startup complete", workers)
