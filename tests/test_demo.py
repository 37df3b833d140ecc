"""``make demo`` end to end: the real script, a real uvicorn server on 127.0.0.1, a subprocess."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"
JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASGI_JWT_DEMO_EXIT": "1"}
    command = [sys.executable, str(DEMO)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603


def _segment(segment: str) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


def test_demo_exits_cleanly_after_the_walkthrough(demo: subprocess.CompletedProcess[str]) -> None:
    assert demo.returncode == 0, demo.stderr
    assert "stopping after the walkthrough" in demo.stdout


def test_demo_prints_a_token_signed_with_a_fresh_key(demo: subprocess.CompletedProcess[str]) -> None:
    tokens = set(JWT.findall(demo.stdout))
    assert len(tokens) == 1  # one token, printed alone and inside the curl command
    header, payload, _ = tokens.pop().split(".")
    assert _segment(header)["alg"] == "ES256"
    claims = _segment(payload)
    assert claims["sub"] == "alice"
    assert claims["aud"] == "demo-api"
    assert isinstance(claims["exp"], int)


def test_demo_prints_both_curl_commands(demo: subprocess.CompletedProcess[str]) -> None:
    url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", demo.stdout)
    assert url is not None
    token = JWT.search(demo.stdout)
    assert token is not None
    assert f'  curl -i -H "Authorization: Bearer {token.group()}" {url.group(1)}/me\n' in demo.stdout
    assert f"  curl -i {url.group(1)}/me\n" in demo.stdout


def test_demo_shows_200_with_the_token_and_401_without(demo: subprocess.CompletedProcess[str]) -> None:
    with_token, without = demo.stdout.split("GET /me with the token")[1].split("GET /me without a token")
    assert "status:           200 OK" in with_token
    assert "WWW-Authenticate: (none)" in with_token
    assert '"identity": "alice"' in with_token
    assert "status:           401 Unauthorized" in without
    assert 'WWW-Authenticate: Bearer realm="demo"' in without
    assert '{"detail": "Not authenticated", "error": null}' in without


def test_demo_logs_the_rejection_without_the_token(demo: subprocess.CompletedProcess[str]) -> None:
    assert "rejected GET /me: missing_token (status 401, client 127.0.0.1)" in demo.stderr
    assert not JWT.search(demo.stderr)


def _make_dry_run(target: str, venv: Path) -> str:
    """The commands ``make TARGET`` would run with its virtualenv at ``venv`` (``make -n``: nothing runs)."""
    make = shutil.which("make")
    assert make is not None, "make is needed: apt-get install make"
    command = [make, "--no-print-directory", "-n", target, f"VENV={venv}"]
    run = subprocess.run(command, cwd=DEMO.parent.parent, capture_output=True, text=True, timeout=60, check=True)  # noqa: S603
    return run.stdout


def test_make_demo_installs_only_the_demo_extra(tmp_path: Path) -> None:
    commands = _make_dry_run("demo", tmp_path / "venv")
    assert "-m venv" in commands
    assert "pip install --quiet -e '.[demo]'" in commands
    assert "[dev]" not in commands
    assert commands.rstrip().endswith("examples/demo.py")


def test_make_test_after_make_demo_installs_the_development_stack(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".created").touch()  # what `make demo` leaves behind
    (venv / ".demo-installed").touch()
    commands = _make_dry_run("pytest", venv)
    assert "-m venv" not in commands  # the same virtualenv
    assert "pip install --quiet -e '.[dev]'" in commands
