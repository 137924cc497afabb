"""The generated signing secret kept under the data directory."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_FILE = "secret"


def load_or_create_secret(data_dir: Path) -> str:
    """Read ``data_dir/secret``, creating it (mode 0600) on first use."""
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text().strip()
        if len(secret) < 16:
            raise RuntimeError(f"{path} holds no usable secret; delete it "
                               "or set CHATIO_SECRET") from None
        return secret
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    return secret
