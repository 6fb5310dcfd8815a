"""The sandboxes' state files: written atomically and readable by the owner only (they hold
API keys, webhook signing secrets, OAuth client secrets, tokens and signing keys)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_state(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older .tmp may have had wider permissions
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(data))
    os.replace(tmp, path)
