"""Extension points: plugins add names by entry point, and replace a built-in only when they say so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from superlite.extensions import ExtensionPoint, invalidate_caches

GROUP = "superlite.test_extension_point"
POINT = ExtensionPoint(GROUP, {"sqlite": "superlite.common.leases:Leases"})


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path where a test writes a distribution's entry points."""
    dist = tmp_path / "plugin_for_tests-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: plugin-for-tests\nVersion: 0.1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield dist
    monkeypatch.undo()
    invalidate_caches()


def declare(dist: Path, *lines: str) -> None:
    (dist / "entry_points.txt").write_text(f"[{GROUP}]\n" + "\n".join(lines) + "\n")
    invalidate_caches()


def test_plugin_adds_a_name(installed: Path) -> None:
    declare(installed, "mine = superlite.common.retry:retry")
    from superlite.common.retry import retry

    assert POINT.find("mine") is retry and POINT.find("mine+driver") is retry
    assert POINT.find("unknown") is None


def test_plugin_cannot_take_over_a_builtin_by_accident(installed: Path) -> None:
    declare(installed, "sqlite = superlite.common.retry:retry")
    from superlite.common.leases import Leases

    with pytest.warns(UserWarning, match=r"would replace a built-in; ignored. Name it 'sqlite!replace'"):
        assert POINT.find("sqlite") is Leases


def test_plugin_replaces_a_builtin_when_it_says_so(installed: Path) -> None:
    declare(installed, "sqlite!replace = superlite.common.retry:retry")
    from superlite.common.retry import retry

    assert POINT.find("sqlite") is retry
    assert "sqlite!replace" not in POINT.names()
