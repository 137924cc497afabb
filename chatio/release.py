"""The installed chatio release, for ``--version``, logs and OpenAPI."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def release() -> str:
    """chatio's version as installed, ``unknown`` from a bare checkout."""
    try:
        return version("chatio")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout
        return "unknown"
