"""Every Python block in README.md and docs/*.md runs as it stands, or is a checked excerpt of an example that runs.

The first line of a ```python block says which kind it is:

- ``# fragment of examples/NAME.py``: part of that example file, shown to explain it. The block is not run on
  its own; the file is (in a subprocess, like a complete block), and the block's lines must appear in it
  consecutively and unchanged. A line ``# ...`` in the block stands for lines of the file left out, so one
  block can show, say, the imports and the middleware line. A fragment cannot drift from its file, and the file
  is where a reader finds the whole program.
- ``# examples/NAME.py``: the block is that file's code (its module docstring may be left out). It is run as a
  complete program and checked against the file like a fragment.
- anything else: a complete program, run as ``python block.py`` in an empty directory.

Programs run in a subprocess with a timeout and a bounded environment: of the ``JWT_*`` variables only
``JWT_SECRET_KEY`` and ``JWT_PREVIOUS_SECRET_KEY`` are set (test secrets). So a block must finish on its own and
offline: a block that builds an app only builds it (no ``uvicorn.run``), one that needs an event loop ends with
``asyncio.run(main())``, and nothing is fetched from the network. Example files are run with ``runpy`` (their
``if __name__ == "__main__":`` part does not run) from the ``examples`` directory. Blocks in other languages
(``bash``, ``console``, ``text``, ``json``) are not run.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SECRET = "docs-test-secret-that-is-long-enough-for-hs256"
PREVIOUS_SECRET = "the-previous-docs-test-secret-also-long-enough"
TIMEOUT = 60

OPENING = re.compile(r"^(?P<indent>[ \t]*)```(?P<language>[\w+-]*)")
MARKER = re.compile(r"^# (?P<fragment>fragment of )?(?P<path>examples/[\w/.-]+\.py)$")
ELISION = "# ..."
RUN_EXAMPLE = "import runpy, sys; runpy.run_path(sys.argv[1])"


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # of the block's first code line, 1-based
    code: str

    @property
    def marker(self) -> re.Match[str] | None:
        return MARKER.match(self.code.split("\n", 1)[0].rstrip())

    @property
    def example(self) -> Path | None:
        marker = self.marker
        return None if marker is None else ROOT / marker["path"]

    @property
    def is_fragment(self) -> bool:
        marker = self.marker
        return marker is not None and marker["fragment"] is not None


def fenced_blocks(page: Path, languages: tuple[str, ...] = ("python", "py")) -> list[Block]:
    """The fenced blocks in these languages of a Markdown page, dedented (admonitions indent theirs)."""
    blocks: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = OPENING.match(lines[index])
        index += 1
        if opening is None:
            continue
        indent, body, start = opening["indent"], [], index + 1
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index][len(indent) :] if lines[index].startswith(indent) else lines[index])
            index += 1
        index += 1  # the closing fence
        if opening["language"] in languages:
            blocks.append(Block(str(page.relative_to(ROOT)), start, "\n".join(body) + "\n"))
    return blocks


BLOCKS = [block for page in PAGES for block in fenced_blocks(page)]
PROGRAMS = [block for block in BLOCKS if not block.is_fragment]
EXCERPTS = [block for block in BLOCKS if block.example is not None]
EXAMPLE_FILES = sorted({block.example for block in EXCERPTS if block.example is not None})


def block_id(block: Block) -> str:
    return f"{block.page}:{block.line}"


def run_python(arguments: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("JWT_", "DJANGO_"))}
    env.update(
        JWT_SECRET_KEY=SECRET,
        JWT_PREVIOUS_SECRET_KEY=PREVIOUS_SECRET,
        DJANGO_SETTINGS_MODULE="django_project.settings",  # only the Django example reads it
    )
    return subprocess.run(  # noqa: S603 - this interpreter, the project's own code
        [sys.executable, *arguments], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def excerpts(block: Block) -> list[list[str]]:
    """The block's code without its marker line, cut at ``# ...`` lines, blank lines at either end dropped."""
    chunks: list[list[str]] = [[]]
    for line in block.code.splitlines()[1:]:
        if line.strip() == ELISION:
            chunks.append([])
        else:
            chunks[-1].append(line.rstrip())
    trimmed = []
    for chunk in chunks:
        while chunk and not chunk[0]:
            chunk.pop(0)
        while chunk and not chunk[-1]:
            chunk.pop()
        trimmed.append(chunk)
    return trimmed


def test_the_pages_have_python_blocks_of_each_kind() -> None:
    assert len(BLOCKS) > 30, [block_id(block) for block in BLOCKS]
    assert any(block.is_fragment for block in BLOCKS)
    assert any(block.example is None for block in BLOCKS)


@pytest.mark.parametrize("block", PROGRAMS, ids=block_id)
def test_complete_block_runs(block: Block, tmp_path: Path) -> None:
    (tmp_path / "block.py").write_text(block.code, encoding="utf-8")
    run = run_python(["block.py"], tmp_path)
    assert run.returncode == 0, f"{block_id(block)} failed:\n{run.stderr}"


@pytest.mark.parametrize("block", EXCERPTS, ids=block_id)
def test_excerpt_appears_in_its_example(block: Block) -> None:
    assert block.example is not None
    assert block.example.is_file(), f"{block_id(block)} names {block.example.relative_to(ROOT)}, which does not exist"
    source = [line.rstrip() for line in block.example.read_text(encoding="utf-8").splitlines()]
    position = 0
    for chunk in excerpts(block):
        assert chunk, f"{block_id(block)}: an empty excerpt"
        found = next(
            (
                start
                for start in range(position, len(source) - len(chunk) + 1)
                if source[start : start + len(chunk)] == chunk
            ),
            None,
        )
        assert found is not None, (
            f"{block_id(block)}: these lines are not in {block.example.name} (in this order):\n" + "\n".join(chunk)
        )
        position = found + len(chunk)


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_example_shown_in_the_docs_runs(example: Path) -> None:
    run = run_python(["-c", RUN_EXAMPLE, str(example)], EXAMPLES)
    assert run.returncode == 0, f"{example.relative_to(ROOT)} failed:\n{run.stderr}"


@pytest.mark.parametrize("page", PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_page_includes_files(page: Path) -> None:
    """On GitHub and in editors an include line shows as itself: pages carry their code, checked above."""
    lines = [line for line in page.read_text(encoding="utf-8").splitlines() if line.strip().startswith("--8<--")]
    assert lines == [], f"{page.relative_to(ROOT)}: show the code (a fragment block) or link the example file"


def test_readme_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((docs/[\w-]+\.md)(?:#[\w-]*)?\)", readme))
    pages = {f"docs/{page.name}" for page in PAGES[1:]} - {"docs/changelog.md"}  # README links CHANGELOG.md itself
    assert pages - linked == set(), "link these pages from README.md"
    assert "](CHANGELOG.md)" in readme


# Rejection log lines under a real uvicorn: what docs/middleware.md#logging promises.

REJECTION = "asgi_jwt: rejected GET /orders: missing_token (status 401, client 127.0.0.1)"
LOG_CONFIG = EXAMPLES / "uvicorn_logging.json"
STARTUP_TIMEOUT = 30.0


def serve_and_refuse(arguments: list[str], *, app_dir: Path, app: str = "quickstart:app") -> str:
    """Serve ``app`` under uvicorn on a free loopback port, send one request without a token; uvicorn's output."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    env = {name: value for name, value in os.environ.items() if not name.startswith("JWT_")}
    env.update(JWT_SECRET_KEY=SECRET, PYTHONPATH=str(EXAMPLES))
    command = [sys.executable, "-m", "uvicorn", *arguments, "--app-dir", str(app_dir), "--port", str(port), app]
    server = subprocess.Popen(  # noqa: S603 - this interpreter's uvicorn, on the loopback
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            assert server.poll() is None, "uvicorn exited before it served"
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).raise_for_status()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"uvicorn did not start within {STARTUP_TIMEOUT:.0f} seconds"
                time.sleep(0.1)
        refused = httpx.get(f"http://127.0.0.1:{port}/orders", timeout=5)
        assert refused.status_code == 401
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=TIMEOUT)
    return output


@pytest.mark.parametrize("arguments", [[], ["--log-level", "info"]], ids=["plain", "log-level-info"])
def test_plain_uvicorn_hides_the_rejection_lines(arguments: list[str]) -> None:
    """Why the logging section exists: without a handler for ``asgi_jwt``, its INFO lines go nowhere."""
    output = serve_and_refuse(arguments, app_dir=EXAMPLES)
    assert '"GET /orders HTTP/1.1" 401' in output  # uvicorn's own access line is there
    assert REJECTION not in output


def test_the_documented_log_config_shows_the_rejection_lines() -> None:
    output = serve_and_refuse(["--log-config", str(LOG_CONFIG)], app_dir=EXAMPLES)
    assert f"INFO:     {REJECTION}" in output
    assert '"GET /orders HTTP/1.1" 401' in output  # uvicorn's own lines are kept


def test_the_documented_logging_code_shows_the_rejection_lines(tmp_path: Path) -> None:
    snippet = next(block for block in BLOCKS if block.page == "docs/middleware.md" and "basicConfig" in block.code)
    (tmp_path / "served.py").write_text(snippet.code + "\nfrom quickstart import app  # noqa: E402\n", encoding="utf-8")
    output = serve_and_refuse([], app_dir=tmp_path, app="served:app")
    assert f"INFO:     {REJECTION}" in output


def test_the_log_config_on_the_page_is_the_file() -> None:
    shown = [json.loads(block.code) for block in fenced_blocks(ROOT / "docs" / "middleware.md", ("json",))]
    assert json.loads(LOG_CONFIG.read_text(encoding="utf-8")) in shown
