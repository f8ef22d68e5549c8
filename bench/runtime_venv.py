"""A virtual environment with only the service's runtime dependencies, as the Dockerfile installs them.

Goal 6 measures the memory of the API and the worker as deployed. The development venv (.venv) also holds the
test tools, and some of them change what the service's libraries import: selenium brings trio, which httpcore
imports when it is installed (about 6 MB); schemathesis brings click and rich, so httpx imports its command-line
entry point with pygments (about 4 MB); moto brings PyJWT, which redis imports. No deployment has them, and the
service cannot keep a library from importing what it finds installed.

So the venv is built the Dockerfile's way (`pip install -c constraints.txt` with pyproject.toml's dependencies),
under var/bench/runtime-venv, once per change of either file. The project itself is not installed in it: the
processes run from the repository's root, so they import the working tree's `app`, as the other goals do.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "var" / "bench" / "runtime-venv"
_STAMP = VENV / ".installed"


def _requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [str(requirement) for requirement in project["dependencies"]]


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def runtime_python() -> str:
    """The runtime venv's interpreter, built first if pyproject.toml or constraints.txt changed (about 20 s)."""
    python = VENV / "bin" / "python"
    fingerprint = _fingerprint()
    if python.exists() and _STAMP.exists() and _STAMP.read_text() == fingerprint:
        return str(python)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-c", str(ROOT / "constraints.txt"), *_requirements()],
        check=True,
    )  # fmt: skip
    _STAMP.write_text(fingerprint)
    return str(python)
