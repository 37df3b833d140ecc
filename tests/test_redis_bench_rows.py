"""The Redis benchmark rows run against a real redis-server, and are skipped with a note without one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROWS = {"asgi-jwt HS256, hot, revocation on (Redis)", "asgi-jwt HS256, cold, revocation on (Redis)"}


def bench(tmp_path: Path, path: str) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, object]]]:
    output = tmp_path / "requests.json"
    command = [sys.executable, "-m", "benchmarks", "--rows", "revocation on (Redis)", "--rounds", "2"]
    command += ["--number", "3", "--json", str(output), "--no-chart"]
    env = {**os.environ, "PATH": path}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr[-3000:]
    return result, {row["name"]: row for row in json.loads(output.read_text())["rows"]}


def test_the_redis_rows_are_measured(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: `make test` installs it (Debian: apt-get install redis-server)")
    result, rows = bench(tmp_path, os.environ["PATH"])
    assert set(rows) >= ROWS
    for name in ROWS:
        assert rows[name]["ratio"] > 0  # type: ignore[operator]
        assert rows[name]["relative_to"] == "bare Starlette app"
        assert f"| {name} | " in result.stdout
    assert "revocation on (Redis) \u2264 1.3\u00d7 bare" in result.stdout


def test_without_redis_server_the_rows_are_skipped_with_a_note(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result, rows = bench(tmp_path, str(empty))
    assert not ROWS & set(rows)
    for name in ROWS:
        assert f"redis-server not installed; Debian: apt-get install redis-server): {name}" in result.stderr
