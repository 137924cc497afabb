"""Files a node leaves in its data directory for the next process."""
from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step, readable by this user
    only; ``OSError`` when it cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def take(path: Path) -> str | None:
    """The text of ``path``, which is removed: a snapshot is read once.
    None when there is none."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    path.unlink(missing_ok=True)
    return text
