"""The test run's own Redis and PostgreSQL: started from the binaries, never a server already running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import redis

from tests.servers import LocalServers, missing_binaries

ROOT = Path(__file__).resolve().parents[1]


def test_the_servers_are_started_for_the_run_and_gone_after_it():
    servers = LocalServers()
    url, conninfo = servers.redis_url(), servers.postgres()
    assert ":6379/" not in url  # never the machine's own
    assert "port=5432" not in conninfo
    client = redis.Redis.from_url(url)
    assert client.ping()
    client.close()
    with psycopg.connect(conninfo) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
    assert servers.redis_url() == url  # started once
    servers.stop()
    gone = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        gone.ping()
    except redis.ConnectionError:
        pass
    else:
        raise AssertionError("the run's Redis still answers after stop()")
    finally:
        gone.close()


def test_a_missing_server_binary_stops_the_run_before_any_test_saying_what_to_install(tmp_path):
    # No redis-server on PATH (PostgreSQL is still found in Debian's own folder when installed).
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "tests/test_models.py"],
        cwd=ROOT,
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "this machine lacks: Redis (Debian: apt-get install redis-server)" in output
    assert " passed" not in output


def test_missing_binaries_names_what_to_install(monkeypatch):
    import tests.servers as servers

    monkeypatch.setattr(servers.shutil, "which", lambda name: None)
    monkeypatch.setattr(servers.glob, "glob", lambda pattern: [])
    assert missing_binaries() == [
        "PostgreSQL's server (Debian: apt-get install postgresql)",
        "Redis (Debian: apt-get install redis-server)",
    ]
