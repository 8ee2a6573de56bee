"""The datasets known to the platform: one entry per credit product.

A bank runs several credit products (card, personal loan, mortgage) on one platform, each with
its own data, contract, model and review band. A dataset's name is its contract's ``name``;
every piece of state belongs to exactly one dataset and is keyed by that name: asset files
(``<storage>/<name>/...``), Dagster asset keys (``<name>/raw_applications``) and jobs
(``<name>__training_job``), the MLflow experiment and registered model (``credit-<name>``),
decision-log rows and locks.

The platform always knows the environment's dataset (``CREDIT_CONTRACT`` and
``CREDIT_DATA_DIR``: the packaged Santander contract and ``./data`` by default), and every
dataset recorded in a small YAML file (``$CREDIT_HOME/datasets.yaml``, or ``CREDIT_DATASETS``):
``run --contract FILE --data DIR`` records one the first time, and later commands name it with
``--dataset NAME``. A recorded entry of the same name overrides the environment's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from credit_assets.core.contract import DatasetContract, load_contract
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.io import write_bytes_atomic


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset: its name, contract file (None: the packaged Santander contract) and data."""

    name: str
    contract_path: Path | None
    data_dir: Path

    def contract(self) -> DatasetContract:
        contract = load_contract(self.contract_path)
        if contract.name != self.name:
            raise CreditAssetsError(
                f"{self.contract_path or 'the packaged contract'} names dataset "
                f"{contract.name!r}, but it is recorded as dataset {self.name!r}"
            )
        return contract

    def to_dict(self) -> dict[str, str | None]:
        return {
            "contract": str(self.contract_path) if self.contract_path else None,
            "data": str(self.data_dir),
        }


def storage_location(root: str, name: str) -> str:
    """Where one dataset's asset files live under the platform's storage location."""
    return f"{root.rstrip('/')}/{name}"


_MODEL_PREFIX = "credit-"


def model_name(name: str) -> str:
    """The MLflow registered model (and experiment) of a dataset."""
    return f"{_MODEL_PREFIX}{name}"


def dataset_of(registered_model: str) -> str:
    """The dataset of a registered model (inverse of :func:`model_name`)."""
    return registered_model.removeprefix(_MODEL_PREFIX)


class UnknownDatasetError(CreditAssetsError):
    """A command named a dataset the platform does not know, or could not tell which."""


@dataclass(frozen=True)
class Catalog:
    path: Path
    default: DatasetEntry

    def entries(self) -> dict[str, DatasetEntry]:
        """Known datasets by name: the environment's and the recorded ones."""
        return {self.default.name: self.default, **self._recorded()}

    def _recorded(self) -> dict[str, DatasetEntry]:
        if not self.path.is_file():
            return {}
        try:
            raw = yaml.safe_load(self.path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise CreditAssetsError(f"{self.path}: not valid YAML: {exc}") from None
        datasets = raw.get("datasets") if isinstance(raw, dict) else None
        if not isinstance(datasets, dict):
            raise CreditAssetsError(f"{self.path}: expected a mapping 'datasets: {{name: ...}}'")
        out = {}
        for name, entry in datasets.items():
            if not isinstance(entry, dict) or "data" not in entry:
                raise CreditAssetsError(f"{self.path}: dataset {name!r} needs 'data' (a folder)")
            contract = entry.get("contract")
            out[str(name)] = DatasetEntry(
                str(name), Path(contract) if contract else None, Path(entry["data"])
            )
        return out

    def names(self) -> list[str]:
        return sorted(self.entries())

    def get(self, name: str) -> DatasetEntry:
        entries = self.entries()
        if name not in entries:
            raise UnknownDatasetError(
                f"unknown dataset {name!r}; known datasets: {', '.join(sorted(entries))}"
            )
        return entries[name]

    def add(self, entry: DatasetEntry) -> None:
        """Record a dataset (or its new contract path / data folder) in the catalog file."""
        if self.entries().get(entry.name) == entry:
            return
        entries = {**self._recorded(), entry.name: entry}
        text = yaml.safe_dump(
            {"datasets": {n: e.to_dict() for n, e in sorted(entries.items())}}, sort_keys=False
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(text.encode(), self.path)

    def resolve(
        self, name: str | None = None, contract: Path | None = None, data: Path | None = None
    ) -> DatasetEntry:
        """The dataset a command acts on.

        ``contract`` (a file) names its dataset by the contract's name, known or new; ``name``
        must be known. With neither, the only known dataset; with several known, an error
        that lists them.
        """
        if contract is not None:
            loaded = load_contract(contract)
            if name is not None and name != loaded.name:
                raise UnknownDatasetError(
                    f"--dataset {name} but the contract {contract} is dataset {loaded.name!r}"
                )
            known = self.entries().get(loaded.name)
            folder = data or (known.data_dir if known else self.default.data_dir)
            return DatasetEntry(loaded.name, contract.absolute(), folder.absolute())
        if name is None:
            entries = self.entries()
            if len(entries) > 1:
                raise UnknownDatasetError(
                    "several datasets are known; name one with --dataset: "
                    + ", ".join(sorted(entries))
                )
            (entry,) = entries.values()
        else:
            entry = self.get(name)
        if data is not None:
            return DatasetEntry(entry.name, entry.contract_path, data.absolute())
        return entry
