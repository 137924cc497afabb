"""The generated signing secret kept under the data directory."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_FILE = "secret"
MIN_SECRET_CHARS = 16


class DataDirError(Exception):
    """The data directory or its secret file is unusable; the message says
    what to fix."""


def ensure_data_dir(data_dir: Path) -> None:
    """Create ``data_dir`` if needed; ``DataDirError`` when it cannot be."""
    if data_dir.exists() and not data_dir.is_dir():
        raise DataDirError(f"CHATIO_DATA_DIR={str(data_dir)!r} is not a "
                           "directory")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirError(f"CHATIO_DATA_DIR={str(data_dir)!r} cannot be "
                           f"created: {exc.strerror or exc}") from None


def load_or_create_secret(data_dir: Path) -> str:
    """Read ``data_dir/secret``, creating it (mode 0600) on first use."""
    path = data_dir / SECRET_FILE
    if data_dir.exists() and not data_dir.is_dir():
        raise DataDirError(f"CHATIO_DATA_DIR={str(data_dir)!r} is not a "
                              "directory")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = _read(path).strip()
        if len(secret) < MIN_SECRET_CHARS:
            raise DataDirError(
                f"{path} holds fewer than {MIN_SECRET_CHARS} characters; "
                "delete it or set CHATIO_SECRET") from None
        return secret
    except OSError as exc:
        raise DataDirError(
            f"CHATIO_DATA_DIR={str(data_dir)!r} cannot hold the secret "
            f"file: {exc.strerror or exc}") from None
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    return secret


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataDirError(f"cannot read {path}: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None
