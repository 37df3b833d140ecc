"""The import graph of docs/architecture.md: every import goes down the layers or stays in one, and never cycles."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import asgi_jwt

PACKAGE = Path(asgi_jwt.__file__).parent

LAYERS = {
    1: ["errors", "_checks", "_text", "_jose", "_algorithms", "_sign"],
    2: ["claims", "responses", "identity", "paths", "lifespan", "revocation", "mirror"],
    3: ["_pem", "jwk", "keys", "jwkset", "_http", "jwks", "config", "publish"],
    4: ["cache", "verify", "issuers", "issuing"],
    5: ["authz", "authz.grants", "authz.requirements", "authz.rules"],
    6: ["credentials", "middleware", "apikeys", "endpoints"],
    7: [
        "integrations",
        "integrations.starlette",
        "integrations.fastapi",
        "integrations.django",
        "integrations.mcp",
        "integrations.mcp.jsonrpc",
        "integrations.mcp.resource",
        "integrations.mcp.sessions",
        "integrations.mcp.tools_list",
        "integrations.mcp.protect",
        "integrations.mcp.sdk",
        "redis_store",
        "client_tokens",
        "client",
        "cli_keys",
        "cli",
    ],
}
LAYER_OF = {module: layer for layer, modules in LAYERS.items() for module in modules}
# Imported inside a function when asked for, never at import time: ``from asgi_jwt.authz import authorize``.
# An AuthError is also a Starlette HTTPException, whose headers come from the one response builder when a
# framework's own handler asks for them: ``errors`` imports ``responses`` then, never at import time.
LAZY = {("authz", "integrations.starlette"), ("errors", "responses")}
OPTIONAL = ("fastapi", "django", "mcp", "redis")


def modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(encoding="utf-8"))
    return found


def imports(tree: ast.Module, *, top_level_only: bool) -> set[str]:
    """The modules of ours that ``tree`` imports (``""`` is the package itself), and any optional dependency."""
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    ours = {name.removeprefix("asgi_jwt").lstrip(".") for name in names if name.split(".")[0] == "asgi_jwt"}
    return ours | {name for name in names if name.split(".")[0] in OPTIONAL}


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(name for name in modules() if name and name not in LAYER_OF)
    assert unplaced == [], "place these modules in docs/architecture.md and in LAYERS here"


@pytest.mark.parametrize("name", sorted(name for name in modules() if name))
def test_imports_go_down_the_layers(name: str) -> None:
    tree = modules()[name]
    for imported in imports(tree, top_level_only=False):
        if imported.split(".")[0] in OPTIONAL:
            assert LAYER_OF[name] == 7, f"{name} imports the optional dependency {imported}"
            continue
        assert imported != "", f"{name} imports the package facade"
        if (name, imported) in LAZY:
            assert imported not in imports(tree, top_level_only=True), f"{name} must import {imported} lazily"
            continue
        assert LAYER_OF[imported] <= LAYER_OF[name], f"{name} (layer {LAYER_OF[name]}) imports {imported}"


def test_there_are_no_import_cycles() -> None:
    graph = {name: imports(tree, top_level_only=True) - {""} for name, tree in modules().items() if name}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        pytest.fail(f"import cycle: {cycle.args[1]}")
