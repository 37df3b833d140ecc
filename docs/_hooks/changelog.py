"""MkDocs hook: the site's changelog page is CHANGELOG.md itself.

In the repository, ``docs/changelog.md`` only links to the top-level ``CHANGELOG.md`` (so it reads well on GitHub
and in an editor, with no include line); on the site, the page's Markdown is replaced by that file's text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri != "changelog.md":
        return markdown
    return (Path(config.config_file_path).parent / "CHANGELOG.md").read_text(encoding="utf-8")
