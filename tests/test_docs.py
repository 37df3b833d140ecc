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

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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


def python_blocks(page: Path) -> list[Block]:
    """The fenced ```python blocks of a Markdown page, dedented (admonitions indent theirs)."""
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
        if opening["language"] in ("python", "py"):
            blocks.append(Block(str(page.relative_to(ROOT)), start, "\n".join(body) + "\n"))
    return blocks


BLOCKS = [block for page in PAGES for block in python_blocks(page)]
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
            (start for start in range(position, len(source) - len(chunk) + 1) if source[start : start + len(chunk)] == chunk),
            None,
        )
        assert found is not None, f"{block_id(block)}: these lines are not in {block.example.name} (in this order):\n" + "\n".join(chunk)
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
