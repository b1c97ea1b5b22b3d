"""What the HTTP benchmarks share: Clarion processes on a free port, the load generator,
and databases created afresh for each run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).parents[1]
CATALOG = ROOT / "catalog"
CLARION = str(Path(sys.executable).with_name("clarion"))
API_KEY = "bench-key"


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clarion_env(database_url: str, sink: Path, **extra: str) -> dict[str, str]:
    """The environment of a Clarion process: only CLARION_* settings we choose."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLARION_")}
    env.update(
        {
            "CLARION_DATABASE_URL": database_url,
            "CLARION_CATALOG": str(CATALOG),
            "CLARION_API_KEYS": API_KEY,
            "CLARION_PROVIDERS": json.dumps({"sink": {"type": "sink", "path": str(sink)}}),
            "CLARION_LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra)
    return env


class Process:
    """A child process that is stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.log = log
        self._file = log.open("wb")
        self.proc = subprocess.Popen(
            list(args), env=dict(env), stdout=self._file, stderr=subprocess.STDOUT
        )

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._file.close()

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    env: Mapping[str, str], port: int, log: Path, *, workers: bool = True, extra: Sequence[str] = ()
) -> Process:
    """``clarion serve`` on 127.0.0.1:``port``, once /readyz answers."""
    args = [CLARION, "serve", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--workers" if workers else "--no-workers", *extra]
    proc = Process(args, env, log)
    wait_ready(port, proc)
    return proc


def wait_ready(port: int, proc: Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"clarion exited early:\n{proc.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    proc.stop()
    raise RuntimeError("clarion did not become ready in time")


def loadgen(
    url: str, template: str, *options: str, log: Path | None = None, api_key: bool = True
) -> dict[str, object]:
    """Run the load generator in its own process; its JSON summary.

    Requests carry the benchmark's API key unless ``api_key`` is False (device
    endpoints, whose credentials come in ``options``, e.g. ``--header-file``)."""
    args = [sys.executable, "-m", "bench.loadgen", url, "--template", template]
    if api_key:
        args += ["--header", f"Authorization: Bearer {API_KEY}"]
    args += options
    if log is not None:
        args += ["--log", str(log)]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True, timeout=600)
    summary: dict[str, object] = json.loads(out.stdout)
    return summary


def postgres_admin_url(url: str) -> tuple[str, str]:
    """(URL of the server's ``postgres`` database, name of the database in ``url``)."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    return parsed.set(database="postgres").render_as_string(hide_password=False), str(
        parsed.database
    )


def recreate_postgres(url: str) -> None:
    """Drop and create the database named in ``url`` (a benchmark's own)."""
    _admin(url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', 'CREATE DATABASE "{name}"')


def drop_postgres(url: str) -> None:
    """Drop the database named in ``url`` (a benchmark's own), if it exists."""
    _admin(url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(url: str, *statements: str) -> None:
    import sqlalchemy as sa

    admin, name = postgres_admin_url(url)
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement.format(name=name))
    finally:
        engine.dispose()


def postgres_reachable(url: str) -> str | None:
    """None when the server answers, else why not."""
    import sqlalchemy as sa

    admin, _ = postgres_admin_url(url)
    engine = sa.create_engine(admin, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:
        return f"PostgreSQL unreachable: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    return None
