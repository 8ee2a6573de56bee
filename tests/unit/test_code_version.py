"""The code version names the checkout the package is loaded from, wherever the process runs."""

import subprocess
from pathlib import Path

from credit_assets.code_version import code_version, git_revision

PACKAGE = Path(__file__).resolve().parents[2] / "credit_assets"


def test_revision_is_the_packages_checkout_not_the_working_directory(tmp_path, monkeypatch):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PACKAGE, capture_output=True, text=True)
    expected = head.stdout.strip() if head.returncode == 0 else "unknown"
    monkeypatch.chdir(tmp_path)  # not a checkout
    git_revision.cache_clear()
    try:
        assert git_revision() == expected
        assert code_version().endswith(f"+{expected}")
    finally:
        git_revision.cache_clear()
