"""The secrets development generates when they are not set, kept in `<var>/dev-secrets.json`.

Several processes often start at once on one var directory (`make run` beside `python -m app worker`, the
compose file's API and worker, a test's two APIs and two workers). Each reads, completes and writes the file
under an exclusive lock (`dev-secrets.lock`), so the first one generates a secret and every other one reads
that same value: two APIs signing with different JWT secrets, or a worker dying on another process's
half-renamed temporary file, cannot happen. Platforms without `fcntl` (Windows) go without the lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

SECRETS_FILE = "dev-secrets.json"
LOCK_FILE = "dev-secrets.lock"


def kept_secrets(
    var_dir: Path, names: Sequence[str], generate: Callable[[str], str]
) -> tuple[dict[str, str], list[str]]:
    """The value of each of `names`, the stored one or a new one from `generate(name)` (then stored);
    with the names whose value was generated now."""
    var_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(var_dir / LOCK_FILE):
        stored = _load(var_dir / SECRETS_FILE)
        missing = [name for name in names if name not in stored]
        for name in missing:
            stored[name] = generate(name)
        if missing:
            _save(var_dir / SECRETS_FILE, stored)
    return {name: stored[name] for name in names}, missing


def _load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _save(path: Path, values: dict[str, str]) -> None:
    # A temporary file of this process's own (readable by the owner only from the start), renamed over the
    # file: a reader sees the old content or the new, never half of it.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".dev-secrets-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(json.dumps(values, indent=2))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    if sys.platform == "win32":
        yield
        return
    import fcntl

    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
