"""Reading a YAML settings file named by an environment variable: one mapping of known keys, and
an error that names the variable, the file and the key or reason (image policy, delivery policy)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml


def read_settings_file(path: str | Path, *, env: str, keys: Sequence[str],
                       error: type[Exception]) -> Mapping[str, Any]:
    """The file's top-level mapping, every key one of ``keys``; else ``error`` saying what is wrong."""
    file = Path(path).expanduser()
    try:
        raw = yaml.safe_load(file.read_text()) or {}
    except OSError as exc:
        raise error(f"{env}={str(path)!r} cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{env}={str(path)!r} is not valid YAML: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise error(f"{file}: want a mapping with keys {', '.join(keys)}")
    unknown = sorted(set(raw) - set(keys))
    if unknown:
        raise error(f"{file}: unknown key(s) {unknown}; known: {', '.join(keys)}")
    return raw
