"""The code version names the checkout the package is loaded from, wherever the process runs."""

import subprocess
from pathlib import Path

from credit_assets.code_version import STAMP, code_version, git_revision, stamped_revision

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


def test_an_image_reads_the_revision_stamped_at_build(tmp_path):
    stamp = tmp_path / "CODE_VERSION"
    assert stamped_revision(stamp) is None  # a checkout: git decides
    stamp.write_text("0123abc\n")
    assert stamped_revision(stamp) == "0123abc"
    dockerfile = (PACKAGE.parent / "deploy" / "Dockerfile").read_text()
    assert f'RUN echo "$CODE_VERSION" > credit_assets/{STAMP.name}' in dockerfile
