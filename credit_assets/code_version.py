"""Which code is running: the package version and, in a git checkout, its revision."""

import subprocess
from functools import cache
from pathlib import Path

from credit_assets import __version__


@cache
def git_revision() -> str:
    """The checkout this package is loaded from (not the process's working directory)."""
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
