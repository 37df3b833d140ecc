"""The benchmark commands still run: a tiny run of each, so the harness cannot rot unnoticed.

Only rows that need the core dependencies (and uvicorn, for the end-to-end run) take
part, and nothing here looks at timings: the figures of a three-call run mean nothing.
What is checked is that every row is measured, tabulated and written out.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALGORITHMS = ("HS256", "RS256", "ES256", "EdDSA")
CORE_REQUEST_ROWS = {
    "bare Starlette app",
    *(f"asgi-jwt {alg}, hot (seen before)" for alg in ALGORITHMS),
    *(f"asgi-jwt {alg}, cold (never seen)" for alg in ALGORITHMS),
    "asgi-jwt HS256, hot, revocation on (memory)",
    "asgi-jwt HS256, cold, revocation on (memory)",
    "asgi-jwt, invalid token (bad signature)",
    *(f"minimal pure-ASGI middleware + jwt.decode, {alg}" for alg in ALGORITHMS),
    "minimal pure-ASGI middleware + jwt.decode, invalid token",
    "minimal middleware + dict of verified tokens (all hits)",
    "Starlette AuthenticationMiddleware + PyJWT backend, HS256",
    "Starlette AuthenticationMiddleware + PyJWT backend, invalid token",
    *(f"primitives alone in a middleware (no checks, no cache), {alg}, cold (never seen)" for alg in ALGORITHMS),
}
CORE_VERIFY_ROWS = {
    *(f"asgi-jwt TokenVerifier.verify, {alg}" for alg in ALGORITHMS),
    *(f"PyJWT jwt.decode, {alg}" for alg in ALGORITHMS),
    "PyJWT jwt.decode, RS256, PEM string as key",
    *(f"physical limit, {alg}" for alg in ALGORITHMS),
    "asgi-jwt TokenVerifier.cached, hit",
    "physical limit, dict",
}
CORE_ISSUE_ROWS = {
    "asgi-jwt TokenIssuer.issue, HS256",
    "PyJWT jwt.encode, HS256, same claims",
    "asgi-jwt TokenIssuer.issue_pair, HS256",
    "PyJWT jwt.encode ×2, HS256, same claims",  # noqa: RUF001 (the table's own sign)
}


def run(*args: str, allowed: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", *args]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    assert result.returncode in allowed, result.stderr[-3000:]
    return result


def test_the_in_process_suite_measures_tabulates_and_writes_every_row(tmp_path: Path) -> None:
    output = tmp_path / "requests.json"
    result = run("benchmarks", "--only", "core", "--rounds", "2", "--number", "3", "--json", str(output), "--no-chart")
    document = json.loads(output.read_text())
    rows = {row["name"]: row for row in document["rows"]}
    assert {name for name, row in rows.items() if row["kind"] == "request"} == CORE_REQUEST_ROWS
    assert {name for name, row in rows.items() if row["kind"] == "verify"} == CORE_VERIFY_ROWS
    assert {name for name, row in rows.items() if row["kind"] == "issue"} == CORE_ISSUE_ROWS
    for name, row in rows.items():
        assert row["median_us"] > 0, name
        assert row["ratio"] > 0, name
        assert f"| {name} | " in result.stdout, name
    assert rows["bare Starlette app"]["ratio"] == 1.0
    assert rows["physical limit, HS256"]["relative_to"] == "physical limit, HS256"
    assert document["settings"] == {"rounds": 2, "calls_per_round": 3, "clock": "thread CPU time"}
    assert set(document["versions"]) >= {"python", "starlette", "PyJWT"}
    assert document["machine"]["cores"] >= 1
    assert "hot token ≤ 1.25" in result.stdout
    assert any(line.startswith("cold HS256 ≤ 1.05") for line in document["targets"])
    assert any(line.startswith("hot token, revocation on (memory) ≤ 1.3") for line in document["targets"])
    assert any(line.startswith("cold token, revocation on, within 10 %") for line in document["targets"])
    cold = rows["asgi-jwt RS256, cold (never seen)"]
    assert cold["primitives"] == "physical limit, RS256"
    assert cold["primitives_us"] > 0
    assert cold["added_us"] != 0
    floor = "(the primitives alone in a middleware: "
    assert any(line.startswith("cold RS256, added cost") and floor in line for line in document["targets"])


def test_the_chart_is_rendered(tmp_path: Path) -> None:
    chart = tmp_path / "chart.png"
    run(
        "benchmarks",
        "--only",
        "core",
        "--rounds",
        "1",
        "--number",
        "2",
        "--rows",
        "HS256, hot",
        "--json",
        str(tmp_path / "out.json"),
        "--chart",
        str(chart),
    )
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_end_to_end_run_serves_each_app_over_uvicorn(tmp_path: Path) -> None:
    output = tmp_path / "e2e.json"
    options = ["--duration", "0.5", "--rounds", "1", "--connections", "4", "--client", "httpx"]
    result = run("benchmarks.e2e", *options, "--tokens", "both", "--cold-tokens", "20000", "--json", str(output))
    document = json.loads(output.read_text())
    rows = {(row["name"], row["tokens"]): row for row in document["rows"]}
    apps = {
        "bare Starlette app",
        "asgi-jwt HS256",
        "minimal PyJWT middleware, HS256",
        "minimal PyJWT middleware + dict of verified tokens",
        "Starlette AuthenticationMiddleware + PyJWT backend, HS256",
    }
    assert set(rows) == {(name, tokens) for name in apps for tokens in ("hot", "cold")}
    for (name, tokens), row in rows.items():
        assert row["requests"] > 0, (name, tokens)
        assert row["errors"] == 0, name  # every cold token verified: a 401 would count here
        assert row["ratio"] > 0, name
        assert name in result.stdout
    assert rows["bare Starlette app", "cold"]["ratio"] == 1.0
    assert any(line.startswith("end to end, cold tokens, the best ratio") for line in document["targets"])


def test_the_memory_run_reports_growth_against_the_bound(tmp_path: Path) -> None:
    output = tmp_path / "memory.json"
    # Exit status 1 means a bound was exceeded: a measurement, which this test does not judge.
    result = run("benchmarks.memory", "--tokens", "3000", "--cache-size", "500", "--json", str(output), allowed=(0, 1))
    document = json.loads(output.read_text())
    assert document["tokens_per_pass"] == 3000
    assert document["cache_entries"] == 500
    assert document["bound_mb"] > 0
    assert len(document["passes"]) == 2
    assert "RSS growth" in result.stdout


def test_every_app_the_instruction_count_runs_answers_as_expected() -> None:
    """The counted child runs (valgrind itself is not needed for this): each app builds and answers."""
    from benchmarks.instructions import APPS

    for name in APPS:
        # the child exits non-zero when any status differs from the row's expected one
        run("benchmarks.instructions", "--child", name, "--low", "5", "--high", "8")
