"""The key layer imports only downwards: errors, then keys and JWK conversion, then JWK Sets, then the resolver.

Read from the source (no import side effects), so a private reach-across or an
upward import fails here before it becomes a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "asgi_jwt"

# Each module may import the modules listed for it, and nothing else of ours.
ALLOWED = {
    "errors": {"responses"},  # lazily, for the headers of an AuthError used as an HTTPException
    "_checks": set(),
    "_jose": {"errors"},
    "_algorithms": {"errors"},
    "_pem": {"_algorithms", "errors"},
    "jwk": {"_algorithms", "errors"},
    "_sign": {"_algorithms", "_jose"},
    "keys": {"_algorithms", "_pem", "_sign", "errors", "jwk"},
    "jwkset": {"_jose", "_pem", "errors", "jwk", "keys"},
    "_http": {"_jose", "errors"},
    "jwks": {"_checks", "_http", "errors", "jwkset", "keys"},
    "publish": {"_checks", "errors", "jwkset", "keys"},
    "issuers": {"_checks", "_jose", "errors", "verify"},
}


def _imports(module: str) -> list[tuple[str, list[str]]]:
    tree = ast.parse((SRC / f"{module}.py").read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("asgi_jwt"):
            found.append((node.module.removeprefix("asgi_jwt").lstrip("."), [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [
                (alias.name.removeprefix("asgi_jwt").lstrip("."), [])
                for alias in node.names
                if alias.name.startswith("asgi_jwt")
            ]
    return found


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_imports_point_down_and_name_no_private_member(module: str) -> None:
    for imported, names in _imports(module):
        assert imported in ALLOWED[module], f"{module} imports {imported}"
        private = [name for name in names if name.startswith("_")]
        assert not private, f"{module} imports private names {private} from {imported}"


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_modules_stay_readable_in_one_sitting(module: str) -> None:
    lines = (SRC / f"{module}.py").read_text(encoding="utf-8").count("\n")
    assert lines <= 400, f"{module}.py has {lines} lines"
