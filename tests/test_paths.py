"""One path rule for exclude_paths and Rule: whole segments, the mount's root_path stripped."""

from __future__ import annotations

import pytest

from asgi_jwt import ConfigurationError, Rule
from asgi_jwt.paths import PathPrefixes, route_path

COVERED = ["/admin", "/admin/", "/admin/users", "/admin/users/1"]
NOT_COVERED = ["/administrator", "/adm", "/", "/other/admin", ""]


@pytest.mark.parametrize("configured", ["/admin", "/admin/", "/admin//"])
@pytest.mark.parametrize("root_covers_all", [True, False])
def test_a_path_covers_itself_and_the_segments_below(configured: str, root_covers_all: bool) -> None:
    paths = PathPrefixes([configured], what="paths", root_covers_all=root_covers_all)
    assert paths.paths == ("/admin",)
    assert [path for path in COVERED if path in paths] == COVERED
    assert [path for path in NOT_COVERED if path in paths] == []


def test_the_root_covers_everything_for_rules_and_only_itself_for_exclusions() -> None:
    everything = PathPrefixes(["/"], what="paths", root_covers_all=True)
    root_page = PathPrefixes(["/"], what="paths", root_covers_all=False)
    assert all(path in everything for path in ["/", "/admin", "/a/b"])
    assert "/" in root_page
    assert not any(path in root_page for path in ["/admin", "/a/b"])
    assert Rule("/").matches("/admin/users", "GET")  # the rule uses the same compiled paths


def test_an_empty_list_covers_nothing() -> None:
    paths = PathPrefixes([], what="paths", root_covers_all=True)
    assert not paths
    assert "/" not in paths


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ("/health", "exclude_paths must be a list of paths, not one string"),
        (["health"], "exclude_paths entries must start with '/': 'health'"),
        ([3], "exclude_paths entries must start with '/': 3"),
    ],
)
def test_bad_paths_fail_at_construction(paths: object, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PathPrefixes(paths, what="exclude_paths", root_covers_all=False)  # type: ignore[arg-type]
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/orders", "", "/orders"),
        ("/api/orders", "/api", "/orders"),
        ("/api", "/api", "/"),
        ("/other/orders", "/api", "/other/orders"),  # a server that left the mount in: taken as is
    ],
)
def test_route_path_strips_the_mount(path: str, root_path: str, expected: str) -> None:
    assert route_path({"type": "http", "path": path, "root_path": root_path}) == expected
