"""Which code is running: the package version and the revision it was built from.

An image has no git checkout: its build writes the revision into ``CODE_VERSION`` beside this
module (``docker build --build-arg CODE_VERSION=$(git rev-parse HEAD)``, see
deploy/Dockerfile), and that stamp is read first. A checkout asks git.
"""

import subprocess
from functools import cache
from pathlib import Path

from credit_assets import __version__

STAMP = Path(__file__).with_name("CODE_VERSION")


def stamped_revision(stamp: Path = STAMP) -> str | None:
    """The revision written at build time, if this code was built into an image."""
    try:
        return stamp.read_text().strip() or None
    except OSError:
        return None


@cache
def git_revision() -> str:
    """The build's stamp, else the checkout this package is loaded from (not the process's
    working directory)."""
    stamped = stamped_revision()
    if stamped is not None:
        return stamped
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def code_version() -> str:
    return f"{__version__}+{git_revision()}"
