"""Several credit products on one platform: each dataset's state is its own.

A second dataset (loans: other columns, string categories, a string target) is run in the home
of a trained Santander environment, through the command line as a user would. Santander's
files stay byte-identical and its registered model untouched; commands that cannot tell which
dataset is meant say so and list the known ones.
"""

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from credit_assets.settings import Settings
from tests.conftest import FIXTURES, copy_env, write_loans


def _cli(*args: str):
    from credit_assets.cli import app

    return CliRunner().invoke(app, list(args))


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _registry_state(dataset: str) -> dict:
    registry = Settings.from_env().registry(dataset)
    client = registry.client
    versions = client.search_model_versions(f"name='{registry.model_name}'")
    return {
        "versions": sorted((v.version, v.run_id, tuple(sorted(v.tags.items()))) for v in versions),
        "model": client.get_registered_model(registry.model_name).aliases,
    }


@pytest.fixture(scope="module")
def two_datasets(trained, tmp_path_factory):
    env, _ = trained
    root = tmp_path_factory.mktemp("two")
    loans = root / "loans"
    loans.mkdir()
    write_loans(loans)
    with copy_env(env, root) as copied:
        santander = Path(Settings.from_env().dataset_storage("santander"))
        before = _digests(santander), _registry_state("santander")
        result = _cli("run", "--contract", str(FIXTURES / "loans.yaml"), "--data", str(loans))
        yield copied, santander, before, result


def test_a_second_dataset_runs_beside_the_first_and_touches_none_of_its_state(two_datasets):
    _env, santander, (files, registry), result = two_datasets
    assert result.exit_code == 0, result.output
    assert "credit-loans" in result.output
    assert _digests(santander) == files
    assert _registry_state("santander") == registry
    loans = Path(Settings.from_env().dataset_storage("loans"))
    assert (loans / "decisions" / "2026-11-03.parquet").is_file()


def test_both_datasets_show_in_one_code_location(two_datasets):
    from credit_assets.definitions import defs

    definitions = defs()
    prefixes = {k.path[0] for k in definitions.resolve_asset_graph().get_all_asset_keys()}
    assert prefixes == {"loans", "santander"}
    jobs = {j.name for j in definitions.resolve_all_job_defs()}
    assert {"loans__training_job", "santander__daily_decisions_job"} <= jobs
    schedules = {s.name for s in definitions.schedules}
    assert {"loans__weekly_retraining", "santander__weekly_retraining"} <= schedules


def test_a_command_that_cannot_tell_the_dataset_lists_the_known_ones(two_datasets):
    result = _cli("run", "--no-train")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "error: several datasets are known; name one with --dataset: loans, santander"
    )
    result = _cli("model", "list", "--dataset", "mortgage")
    assert result.exit_code == 1
    assert "unknown dataset 'mortgage'; known datasets: loans, santander" in result.output


def test_commands_name_the_dataset_they_act_on(two_datasets, tmp_path):
    env, *_ = two_datasets
    result = _cli("model", "list", "--dataset", "loans")
    assert result.exit_code == 0, result.output
    assert "credit-loans" in result.output and "credit-santander" not in result.output
    out = tmp_path / "scored.csv"
    apps = env.data / "applications" / "2026-11-02.csv"
    result = _cli("score", "--dataset", "santander", "--in", str(apps), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "credit-santander" in result.output and out.is_file()
