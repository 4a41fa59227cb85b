"""The real `bentoml serve` (through `ccrisk serve`) on a free loopback port, for the integration and
UI tiers: helpers, and the session fixtures that tests/conftest.py registers."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 180
_SERVER_LOGS: list[Path] = []  # every server log of this run, shown in part when a test failed
_CLIENT_ERRORS = re.compile(r"ValidationError|InvalidArgument|NotFound|PayloadTooLarge|Unprocessable")
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT|\[\d\d/)")  # a new log record (BentoML's or Rich's)


def server_log_errors(text: str, blocks: int = 6, lines: int = 16) -> list[str]:
    """The first `blocks` distinct ERROR/CRITICAL records of a server log (each its first line and
    the end of its traceback), leaving out the 4xx answers that BentoML also logs as errors."""
    records: list[list[str]] = []
    for line in text.splitlines():
        if _STAMP.match(line) or not records:
            records.append([line])
        else:
            records[-1].append(line)
    out, seen = [], set()
    for rec in records:
        body = "\n".join(rec)
        if ("[ERROR]" not in rec[0] and "[CRITICAL]" not in rec[0]) or _CLIENT_ERRORS.search(body):
            continue
        if rec[-1] not in seen:
            seen.add(rec[-1])
            out.append("\n".join(rec if len(rec) <= lines else [rec[0], "  ...", *rec[-lines:]]))
        if len(out) == blocks:
            break
    return out


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """On a failed run, what the servers logged: CI shows the summary, not the files."""
    if exitstatus == 0:
        return
    for log in _SERVER_LOGS:
        errors = server_log_errors(log.read_text(errors="replace")) if log.exists() else []
        if errors:
            terminalreporter.section(f"server log errors: {log}")
            terminalreporter.write_line("\n\n".join(errors))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM (BentoML stops its workers), then SIGKILL whatever is left: the workers run in
    sessions of their own, so the process group alone would not reach them."""
    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for p in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()


# First on PYTHONPATH, Python imports it at start-up (and so does every process started with that
# environment): it takes away the editable install's finder and the repo folder.
_HIDE_REPO = """import sys
REPO = {repo!r}
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path_hooks[:] = [h for h in sys.path_hooks if not getattr(h, "__module__", "").startswith("__editable__")]
sys.path[:] = [p for p in sys.path if p.rstrip("/") != REPO]
"""


def outside_repo(folder: Path, env: dict[str, str]) -> dict[str, str]:
    """`env` for a process run in `folder` that cannot import this repo's packages (and is not
    pointed at its settings): what a model needs must come with the model."""
    (folder / "hide").mkdir(exist_ok=True)
    (folder / "hide" / "sitecustomize.py").write_text(_HIDE_REPO.format(repo=str(ROOT)))
    out = {**env, "PYTHONPATH": str(folder / "hide")}
    out.pop("CCRISK_SETTINGS", None)
    return out


ROLE_KEYS = ("claims_system", "agent_assist", "data_scientist", "admin")


@pytest.fixture(scope="session")
def api_keys(trained) -> dict[str, str]:
    """One key per role (named after the role) plus a rate-limited agent key, in the store's key file."""
    from features.ops.keys import create_key
    from features.settings import load_settings

    path = load_settings(trained.settings_path).stores_url
    keys = {role: create_key(path, role, role, replace=True) for role in ROLE_KEYS}
    keys["limited"] = create_key(path, "limited", "agent_assist", replace=True, rate_per_minute=30)
    keys["fuzzer"] = create_key(path, "fuzzer", "admin", replace=True, rate_per_minute=1_000_000)
    return keys


def start_server(
    env: dict,
    log: Path,
    timeout: float = STARTUP_TIMEOUT_S,
    bento: str | None = None,
    cwd: Path | None = None,
) -> tuple[subprocess.Popen, str]:
    """`ccrisk serve` (or `bentoml serve BENTO`) on a free loopback port; returns once /readyz
    answers 200."""
    port = free_port()
    _SERVER_LOGS.append(log)
    command = ["ccrisk", "serve"] if bento is None else ["bentoml", "serve", bento, "--host", "127.0.0.1"]
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", *command, "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop(proc)
            pytest.fail(f"server not ready in {timeout}s:\n{log.read_text()[-4000:]}")
        time.sleep(0.5)


@pytest.fixture(scope="session")
def server(trained, api_keys, tmp_path_factory):
    """A client of the running server that sends the admin key."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    proc, base = start_server(trained.env(), log)
    try:
        headers = {"Authorization": f"Bearer {api_keys['admin']}"}
        with httpx.Client(base_url=base, timeout=60, headers=headers) as client:
            client.server_pid = proc.pid  # the process `ccrisk serve` started (tests check its tree)
            yield client
    finally:
        stop(proc)
