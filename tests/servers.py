"""Redis and PostgreSQL servers of the test run's own: free loopback ports, temporary folders, stopped at the end.

The README's test command must pass on a machine where nothing is running: the
stores' tests start their own servers from the installed binaries (``redis-server``;
PostgreSQL's ``initdb`` and ``postgres``), the first time a test asks for one, and
stop them when the run ends. They never connect to a server they did not start.
A missing binary stops the run before any test, saying what to install
(`missing_binaries`): a store left untested is a failure, never a skip.

PostgreSQL refuses to run as root: as root, its folder is given to the ``postgres``
user (Debian's server package makes it) and the server runs as that user.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

__all__ = ["LocalServers", "missing_binaries"]

_INSTALL = {
    "redis-server": "Redis (Debian: apt-get install redis-server)",
    "initdb": "PostgreSQL's server (Debian: apt-get install postgresql)",
    "postgres": "PostgreSQL's server (Debian: apt-get install postgresql)",
}
_STARTUP_SECONDS = 60.0


def _binary(name: str) -> str | None:
    """``name`` on PATH, else in Debian's versioned PostgreSQL folder (not on PATH there)."""
    found = shutil.which(name)
    if found is not None:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def missing_binaries() -> list[str]:
    """What to install for the stores' servers, one line each; empty when everything is there."""
    missing = {_INSTALL[name] for name in _INSTALL if _binary(name) is None}
    return sorted(missing)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            output = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise _ServerDidNotStart(f"the test run's own {what} did not start:\n{output}")
        time.sleep(0.05)


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


class LocalServers:
    """Starts each server on first use; `stop` ends every one it started."""

    def __init__(self) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="paycore-test-servers-"))
        self._processes: list[subprocess.Popen[bytes]] = []
        self._redis_url: str | None = None
        self._postgres: str | None = None
        atexit.register(self.stop)  # a run that dies still leaves no server behind

    def redis_url(self) -> str:
        """``redis://127.0.0.1:<port>/0`` of a Redis started for this run."""
        if self._redis_url is None:
            self._redis_url = _retried(self._start_redis)
        return self._redis_url

    def postgres(self) -> str:
        """A libpq connection string for a PostgreSQL started for this run (user and database ``postgres``)."""
        if self._postgres is None:
            self._postgres = _retried(self._start_postgres)
        return self._postgres

    def _start_redis(self, attempt: int) -> str:
        binary = _binary("redis-server")
        if binary is None:
            raise RuntimeError(f"install {_INSTALL['redis-server']}")
        folder = self._folder / f"redis-{attempt}"
        folder.mkdir()
        port = _free_port()
        log = folder / "redis.log"
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--dir", str(folder), "--logfile", str(log), "--daemonize", "no"]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        self._processes.append(process)
        _wait(lambda: _accepts(port), process, "Redis", log)
        return f"redis://127.0.0.1:{port}/0"

    def _start_postgres(self, attempt: int) -> str:
        initdb, postgres = _binary("initdb"), _binary("postgres")
        if initdb is None or postgres is None:
            raise RuntimeError(f"install {_INSTALL['postgres']}")
        folder = self._folder / f"postgres-{attempt}"
        folder.mkdir()
        data = folder / "data"
        become = self._postgres_user(folder)
        log = folder / "postgres.log"
        with log.open("wb") as output:
            subprocess.run(
                [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                check=True,
                preexec_fn=become,  # sets the user only, before exec
            )
        port = _free_port()
        command = [postgres, "-D", str(data), "-p", str(port), "-k", str(folder), "-c", "listen_addresses=127.0.0.1"]
        # A throwaway server: durability is not what these tests measure.
        command += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        command += ["-c", "max_connections=200"]
        with log.open("ab") as output:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=become,  # sets the user only, before exec
            )
        self._processes.append(process)
        conninfo = f"host=127.0.0.1 port={port} dbname=postgres user=postgres"
        _wait(lambda: _connects(conninfo), process, "PostgreSQL", log)
        return conninfo

    @staticmethod
    def _postgres_user(folder: Path) -> Callable[[], None] | None:
        """As root, hand ``folder`` to the ``postgres`` user and return what makes a child that user."""
        if os.geteuid() != 0:
            return None
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError(
                "PostgreSQL will not run as root, and this machine has no 'postgres' user to run it as: "
                "run the tests as another user, or install Debian's postgresql package (it creates one)"
            ) from None
        os.chmod(folder.parent, 0o711)  # noqa: S103  # the postgres user must pass through to its folder
        os.chown(folder, user.pw_uid, user.pw_gid)

        def become() -> None:
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)

        return become

    def stop(self) -> None:
        """Stop every server this object started and remove their folders."""
        while self._processes:
            process = self._processes.pop()
            if process.poll() is None:
                # SIGINT: PostgreSQL's fast shutdown (a smart one would wait for the run's open connections);
                # Redis saves nothing (--save "") and exits.
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        shutil.rmtree(self._folder, ignore_errors=True)


class _ServerDidNotStart(RuntimeError):
    """A server exited or never answered: its port may have been taken between the probe and its start."""


def _retried(start: Callable[[int], str], attempts: int = 3) -> str:
    """``start(attempt)``, again on a new port when the server did not start (a port taken meanwhile)."""
    for attempt in range(1, attempts + 1):
        try:
            return start(attempt)
        except _ServerDidNotStart:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _connects(conninfo: str) -> bool:
    try:
        psycopg.connect(conninfo, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True
