"""Additive models compiled into one look-up table per feature: exact scores and reasons.

An additive model's raw score (log-odds) is a constant plus one function per feature, so each
feature's contribution to a decision depends on that feature alone. A LightGBM model whose
every tree splits on one feature (the ``additive`` candidate's stumps) is a step function per
feature; a logistic regression is a line per numeric feature and a value per category. Both
are compiled once, after training, into an :class:`AdditiveModel`, and every score and reason
is then read from it: a binary search per feature instead of walking every tree.

The compiled contributions are the ones LightGBM's ``pred_contrib`` (TreeSHAP) gives: for an
additive model, feature ``j``'s SHAP value is ``f_j(x_j) - E[f_j]``, the expectation taken
over the training rows each leaf saw. Each table entry *is* LightGBM's own ``pred_contrib``
for a point of its interval, so the look-ups agree with LightGBM's path to the last bit and the
score (their sum) to float rounding. A model that is not additive is not compiled and keeps
LightGBM's own path (:func:`compile_model` returns ``None``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import lightgbm as lgb
    from sklearn.pipeline import Pipeline

# LightGBM's kZeroThreshold (a float literal held in a double): LightGBM reads any input with
# |x| <= it as 0.0.
_LGBM_ZERO = float(np.float32(1e-35))
# Up to this many rows, one comparison per edge for all features at once beats a binary
# search call per feature (the real-time path decides one application at a time).
_FEW_ROWS = 16


@dataclass(frozen=True, eq=False)  # arrays inside: compared by identity
class StepFunction:
    """One feature's contribution as a step function: ``values[searchsorted(edges, x)]``.

    ``edges`` is sorted and ends with ``inf``, so interval ``i`` is ``(edges[i-1], edges[i]]``;
    NaN sorts after ``inf``, into the last slot of ``values``, which is the missing value's."""

    edges: np.ndarray
    values: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.values[np.searchsorted(self.edges, x)]


@dataclass(frozen=True, eq=False)  # arrays inside: compared by identity
class AdditiveModel:
    """``raw score = expected_value + sum_j contribution_j(x_j)`` on built features.

    Feature ``j`` contributes ``steps[j](x_j)`` when it has a step function, else
    ``slopes[j] * (x_j - centers[j])`` (zero when ``x_j`` is missing: imputed at the centre).
    """

    names: tuple[str, ...]
    expected_value: float
    steps: dict[int, StepFunction]
    slopes: np.ndarray
    centers: np.ndarray

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-feature contributions, shape ``(rows, features + 1)``: the last column is the
        expected value, as in LightGBM's ``pred_contrib``; each row sums to the raw score.

        Filled feature by feature, so each feature's look-ups land in one contiguous block:
        the result is a column-major (Fortran-ordered) array. ``x`` is compared as float64,
        whatever its dtype (float32 built features convert exactly)."""
        features = np.asarray(x).T
        out = np.zeros((features.shape[0] + 1, features.shape[1]))
        linear = np.flatnonzero(self.slopes)
        if len(linear):
            distance = features[linear].astype(np.float64) - self.centers[linear, None]
            out[linear] = np.nan_to_num(distance * self.slopes[linear, None])
        if features.shape[1] <= _FEW_ROWS and self.steps:
            stepped, edges, values = self._grid
            out[stepped] = _grid_lookup(features[stepped], edges, values)
        else:
            for j, step in self.steps.items():
                out[j] = step(features[j])
        out[-1] = self.expected_value
        return out.T

    @cached_property
    def _grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every step function in one padded table: the features that have one, their edges
        (padded with ``inf``) and their values (the NaN slot moved to the last column)."""
        stepped = np.array(sorted(self.steps))
        width = max(len(self.steps[j].edges) for j in stepped)
        edges = np.full((len(stepped), width), np.inf)
        values = np.zeros((len(stepped), width + 1))
        for row, j in enumerate(stepped):
            step = self.steps[j]
            edges[row, : len(step.edges)] = step.edges
            values[row, : len(step.edges)] = step.values[:-1]
            values[row, -1] = step.values[-1]
        return stepped, edges, values

    def raw_score(self, x: np.ndarray) -> np.ndarray:
        return row_sums(self.contributions(x))


def row_sums(contributions: np.ndarray) -> np.ndarray:
    """Each row's sum, added feature after feature in the same order for one row as for a
    million: numpy's own sum picks pairwise or sequential order by the array's shape and
    layout, so an application decided alone could differ in its last bit from the batch.
    A few rows are added by ``accumulate`` (the same order, in one call)."""
    if len(contributions) <= _FEW_ROWS:
        return np.add.accumulate(contributions, axis=1)[:, -1]
    total = contributions[:, 0].copy()
    for j in range(1, contributions.shape[1]):
        total += contributions[:, j]
    return total


def _grid_lookup(x: np.ndarray, edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``searchsorted`` for a few rows of every feature at once: the number of edges below
    ``x`` is its interval (padding ``inf`` is never below), NaN goes to the last column."""
    below = (x[:, :, None] > edges[:, None, :]).sum(axis=2)
    slot = np.where(np.isnan(x), values.shape[1] - 1, below)
    return np.take_along_axis(values, slot, axis=1)


def compile_model(model: Any, x_train: np.ndarray) -> AdditiveModel | None:
    """The additive form of a fitted candidate, or ``None`` when it is not additive.

    ``x_train`` (built training features) gives a linear model's expected value; a LightGBM
    model's comes from the counts its trees kept."""
    import lightgbm as lgb

    if isinstance(model, lgb.LGBMClassifier):
        return compile_booster(model.booster_)
    return compile_linear(model, x_train)


def compile_booster(booster: lgb.Booster) -> AdditiveModel | None:
    """Per-feature step functions of a LightGBM binary model whose trees each split on one
    feature; ``None`` for any other model (it keeps LightGBM's own path)."""
    dump = booster.dump_model()
    if dump["num_tree_per_iteration"] != 1 or dump.get("average_output"):
        return None
    n_features = dump["max_feature_idx"] + 1
    thresholds: list[set[float]] = [set() for _ in range(n_features)]
    categories: list[set[int]] = [set() for _ in range(n_features)]
    for tree in dump["tree_info"]:
        if tree.get("is_linear"):
            return None
        used: set[int] = set()
        nodes = [tree["tree_structure"]]
        while nodes:
            node = nodes.pop()
            if "split_feature" not in node:
                continue
            j = node["split_feature"]
            used.add(j)
            if node["decision_type"] == "==":
                categories[j].update(int(c) for c in str(node["threshold"]).split("||"))
            else:
                thresholds[j].add(float(node["threshold"]))
            nodes += [node["left_child"], node["right_child"]]
        if len(used) > 1:
            return None
    # Each feature's real line is cut into intervals on which every tree takes the same
    # branch; one point of each interval (and NaN) is scored by LightGBM itself.
    cuts = {
        j: _category_cuts(max(categories[j])) if categories[j] else _threshold_cuts(thresholds[j])
        for j in range(n_features)
        if categories[j] or thresholds[j]
    }
    rows = max((len(points) for _, points in cuts.values()), default=1)
    probe = np.full((rows, n_features), np.nan)
    for j, (_, points) in cuts.items():
        probe[: len(points), j] = points
    contrib = booster.predict(probe, pred_contrib=True)
    steps = {
        j: StepFunction(edges, contrib[: len(points), j].copy())
        for j, (edges, points) in cuts.items()
    }
    return AdditiveModel(
        tuple(dump["feature_names"]),
        float(contrib[0, -1]),
        steps,
        np.zeros(n_features),
        np.zeros(n_features),
    )


def _threshold_cuts(thresholds: set[float]) -> tuple[np.ndarray, np.ndarray]:
    """Edges and one point per interval for numerical splits (``x <= threshold`` goes left).

    LightGBM reads ``|x| <= 1e-35`` as zero (which a "Zero" missing type then sends the
    default way), so that band is an interval of its own. The points are the edges themselves
    (each is inside its interval), one past the last finite edge, and NaN."""
    cuts = thresholds | {float(np.nextafter(-_LGBM_ZERO, -np.inf)), _LGBM_ZERO}
    finite = np.array(sorted(cuts))
    edges = np.append(finite, np.inf)
    points = np.append(edges[:-1], [np.nextafter(finite[-1], np.inf), np.nan])
    return edges, points


def _category_cuts(top: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges and points for categorical splits: LightGBM truncates a value to an integer code;
    codes below zero or above every split's categories, and NaN, are never in a split."""
    below = np.nextafter(np.arange(1, top + 2, dtype=np.float64), -np.inf)  # [c, c+1) is c
    edges = np.concatenate([[-1.0], below, [np.inf]])
    points = np.concatenate([[-1.0], np.arange(top + 2, dtype=np.float64), [np.nan]])
    return edges, points


def compile_linear(model: Pipeline, x_train: np.ndarray) -> AdditiveModel:
    """A fitted :func:`credit_assets.core.training.linear_model`: a slope per numeric
    feature, a value per category. The contributions are the linear model's SHAP values with
    the training rows as background: ``w * (x - mean)`` for a numeric feature, and for a
    categorical one its category's weight minus the weights' average over training rows."""
    prepare, classifier = model.named_steps["prepare"], model.named_steps["classifier"]
    weights = classifier.coef_[0]
    columns = {name: list(idx) for name, _, idx in prepare.transformers_}
    numeric_idx, categorical_idx = columns.get("numeric", []), columns.get("categorical", [])
    slopes, centers = np.zeros(x_train.shape[1]), np.zeros(x_train.shape[1])
    if numeric_idx:
        scaler = prepare.named_transformers_["numeric"].named_steps["standardscaler"]
        slopes[numeric_idx] = weights[: len(numeric_idx)] / scaler.scale_
        centers[numeric_idx] = scaler.mean_
    expected = float(classifier.intercept_[0])
    steps = {}
    if categorical_idx:
        onehot = prepare.named_transformers_["categorical"]
        fill = float(onehot.named_steps["simpleimputer"].fill_value)
        levels_of = onehot.named_steps["onehotencoder"].categories_
        start = len(numeric_idx)
        for j, levels in zip(categorical_idx, levels_of, strict=True):
            w = weights[start : start + len(levels)]
            start += len(levels)
            codes = np.where(np.isnan(x_train[:, j]), fill, x_train[:, j])
            average = float(w @ (codes[:, None] == levels).mean(axis=0))
            expected += average
            # integer codes: (c - 1, c] holds code c; above the top code, an unseen one
            edges = np.append(np.arange(fill, max(levels.max(), fill) + 1), np.inf)
            weight_of = dict(zip(levels.tolist(), w.tolist(), strict=True))
            values = [weight_of.get(c, 0.0) for c in edges[:-1].tolist()]
            values += [0.0, weight_of.get(fill, 0.0)]  # unseen code, missing (imputed)
            steps[j] = StepFunction(edges, np.array(values) - average)
    names = tuple(str(n) for n in model.feature_names_in_)
    return AdditiveModel(names, expected, steps, slopes, centers)
