"""Feature and prediction drift, measured on binned counts (no database here).

A reference describes one feature of what a model was trained on (or first served):

* numeric: edges at the reference's deciles, from its minimum to just above its maximum.
  Slots: `[0]` below the reference's minimum, one per inner bin, `[-2]` above its maximum,
  `[-1]` missing or not a number (None, NaN, strings, booleans);
* categorical: the `TOP_CATEGORIES` most frequent values (compared as `str(value)`), then
  `[-2]` any other value and `[-1]` missing (None).

Live values are counted into the same slots, so the counts of any minutes add up to the counts
of their union: drift over a window costs the same however much traffic it saw.

Verdict (`compare`): a feature has drifted when, with at least `MIN_LIVE` live values,
PSI >= `PSI_DRIFT` (0.2, the usual "significant shift" line), or the test's p-value is below
`P_DRIFT` (0.01) *and* the effect is at least `MIN_EFFECT` (0.1: KS distance between binned
CDFs for numeric features, Jensen-Shannon distance for categorical ones). The effect floor
keeps a large reference and a busy endpoint from flagging shifts too small to matter, which a
p-value alone does with enough samples.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

NUMERIC_BINS = 10
TOP_CATEGORIES = 20
MIN_LIVE = 100
PSI_DRIFT = 0.2
P_DRIFT = 0.01
MIN_EFFECT = 0.1
EPSILON = 1e-4  # share given to an empty slot, so PSI stays finite
PREDICTION = "__prediction__"
_NUMBER_TYPES = frozenset({float, int})  # not bool: True is no measurement

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class FeatureReference:
    kind: Kind
    edges: tuple[float, ...] = ()  # numeric
    categories: tuple[str, ...] = ()  # categorical
    counts: tuple[int, ...] = ()  # the reference's own values, per slot

    @property
    def slots(self) -> int:
        inner = len(self.edges) if self.kind == "numeric" else len(self.categories)
        return inner + 2

    def to_json(self) -> dict[str, object]:
        found: dict[str, object] = {"kind": self.kind, "counts": list(self.counts)}
        if self.kind == "numeric":
            found["edges"] = list(self.edges)
        else:
            found["categories"] = list(self.categories)
        return found

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> FeatureReference:
        kind: Kind = "numeric" if data.get("kind") == "numeric" else "categorical"
        return cls(
            kind=kind,
            edges=tuple(float(e) for e in _list(data.get("edges"))),
            categories=tuple(str(c) for c in _list(data.get("categories"))),
            counts=tuple(int(c) for c in _list(data.get("counts"))),
        )


def _list(value: object) -> list[float | int | str]:
    return list(value) if isinstance(value, list) else []


def _finite(value: object) -> float | None:
    """The value as a finite number, or None (booleans, NaN and infinities are not)."""
    if (type(value) is float or type(value) is int) and math.isfinite(value):
        return float(value)
    return None


# --- building references -----------------------------------------------------------------


def build_feature(values: Sequence[object], kind: Kind | None = None) -> FeatureReference:
    """The reference of one column. Without `kind`, a column whose present values are at
    least 95% numbers is numeric, anything else categorical."""
    present = [v for v in values if v is not None]
    if kind is None:
        numbers = sum(1 for v in present if type(v) is float or type(v) is int)
        kind = "numeric" if present and numbers >= 0.95 * len(present) else "categorical"
    if kind == "numeric":
        ordered = sorted(f for f in map(_finite, present) if f is not None)
        if ordered:
            n = len(ordered)
            quantiles = [ordered[(i * n) // NUMERIC_BINS] for i in range(NUMERIC_BINS)]
            edges = (*sorted(set(quantiles)), math.nextafter(ordered[-1], math.inf))
        else:
            edges = ()
        reference = FeatureReference("numeric", edges=edges)
    else:
        top = Counter(str(v) for v in present).most_common()
        top.sort(key=lambda item: (-item[1], item[0]))
        reference = FeatureReference(
            "categorical", categories=tuple(c for c, _ in top[:TOP_CATEGORIES])
        )
    counts = [0] * reference.slots
    count_into(reference, values, counts)
    return FeatureReference(reference.kind, reference.edges, reference.categories, tuple(counts))


def build_reference(
    columns: Mapping[str, Sequence[object]], kinds: Mapping[str, Kind] | None = None
) -> dict[str, FeatureReference]:
    """A reference per column; `kinds` fixes the kind of some (from a model's signature)."""
    kinds = kinds or {}
    return {name: build_feature(values, kinds.get(name)) for name, values in columns.items()}


def prediction_values(outputs: object) -> dict[str, object]:
    """The features a served output is measured as: a scalar (number, string, boolean, None)
    is `__prediction__`; a dict is flattened one level, each scalar value becoming
    `__prediction__.<key>` (`{"churn": true, "probability": 0.7}` gives two features); a list
    of one item is that item. Anything else (longer lists, nested values) is not measured."""
    if isinstance(outputs, list) and len(outputs) == 1:
        outputs = outputs[0]
    if outputs is None or isinstance(outputs, str | int | float | bool):
        return {PREDICTION: outputs}
    if isinstance(outputs, dict):
        return {
            f"{PREDICTION}.{key}": value
            for key, value in outputs.items()
            if value is None or isinstance(value, str | int | float | bool)
        }
    return {}


def is_prediction(name: str) -> bool:
    return name == PREDICTION or name.startswith(PREDICTION + ".")


# --- counting ----------------------------------------------------------------------------


def count_into(reference: FeatureReference, values: Sequence[object], counts: list[int]) -> None:
    """Add `values` to `counts` (one per slot of `reference`), in place.

    It runs on every report, so the loops are C's: a column of plain numbers is bisected by
    `map` and tallied by `Counter`; categorical values are tallied first and only the
    distinct ones looked up."""
    missing = len(counts) - 1
    if reference.kind == "categorical":
        index = {c: i for i, c in enumerate(reference.categories)}
        other = missing - 1
        for value, n in Counter(values).items():
            if value is None:
                counts[missing] += n
            else:
                counts[index.get(value if type(value) is str else str(value), other)] += n
        return
    place = partial(bisect_right, reference.edges)
    types = set(map(type, values))
    if types <= _NUMBER_TYPES:
        for slot, n in Counter(map(place, values)).items():
            counts[slot] += n
        if float in types and (nan := sum(map(math.isnan, values))):  # type: ignore[arg-type]
            counts[missing - 1] -= nan  # NaN sorts above every edge: it is missing instead
            counts[missing] += nan
        return
    for value in values:
        kind = type(value)
        if (kind is float or kind is int) and value == value:
            counts[place(value)] += 1
        else:
            counts[missing] += 1


def merge(into: list[int], counts: Sequence[int]) -> None:
    """Add one summary's counts to another's (both of the same reference)."""
    for i, count in enumerate(counts[: len(into)]):
        into[i] += count


# --- measures ----------------------------------------------------------------------------


def _shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    if total == 0:
        return [0.0] * len(counts)
    return [c / total for c in counts]


def psi(reference: Sequence[int], live: Sequence[int], epsilon: float = EPSILON) -> float:
    """Population stability index: sum of (q - p) ln(q / p) over slots, shares clipped to
    `epsilon` so an empty slot on either side stays finite."""
    p = [max(s, epsilon) for s in _shares(reference)]
    q = [max(s, epsilon) for s in _shares(live)]
    return sum((b - a) * math.log(b / a) for a, b in zip(p, q, strict=True))


def ks_statistic(reference: Sequence[int], live: Sequence[int]) -> float:
    """Largest gap between the two binned CDFs, over the bin edges."""
    n, m = sum(reference), sum(live)
    if n == 0 or m == 0:
        return 0.0
    gap = cum_a = cum_b = 0.0
    for a, b in zip(reference, live, strict=True):
        cum_a += a / n
        cum_b += b / m
        gap = max(gap, abs(cum_a - cum_b))
    return gap


def ks_p_value(statistic: float, n: int, m: int) -> float:
    """Asymptotic two-sample Kolmogorov-Smirnov p-value (Stephens' small-sample correction).
    On binned data the statistic can only be smaller than the exact one: conservative."""
    if n == 0 or m == 0 or statistic <= 0:
        return 1.0
    root = math.sqrt(n * m / (n + m))
    lam = (root + 0.12 + 0.11 / root) * statistic
    if lam < 1.18:  # the theta-function form converges fast here
        y = math.exp(-(math.pi**2) / (8 * lam * lam))
        cdf = math.sqrt(2 * math.pi) / lam * sum(y ** ((2 * k - 1) ** 2) for k in range(1, 6))
        return min(1.0, max(0.0, 1.0 - cdf))
    q = 2.0 * sum((1 - 2 * (k % 2 == 0)) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return min(1.0, max(0.0, q))


def js_distance(reference: Sequence[int], live: Sequence[int]) -> float:
    """Jensen-Shannon distance (square root of the divergence, base 2): 0 same, 1 disjoint."""
    p, q = _shares(reference), _shares(live)
    divergence = 0.0
    for a, b in zip(p, q, strict=True):
        mid = (a + b) / 2
        if a > 0:
            divergence += a * math.log2(a / mid) / 2
        if b > 0:
            divergence += b * math.log2(b / mid) / 2
    return math.sqrt(max(0.0, divergence))


def chi2_p_value(reference: Sequence[int], live: Sequence[int]) -> float:
    """Chi-squared test that both samples come from one distribution (a 2 x k contingency
    table over the slots either side saw)."""
    pairs = [(a, b) for a, b in zip(reference, live, strict=True) if a + b > 0]
    n, m = sum(a for a, _ in pairs), sum(b for _, b in pairs)
    if n == 0 or m == 0 or len(pairs) < 2:
        return 1.0
    total = n + m
    statistic = 0.0
    for a, b in pairs:
        column = a + b
        expected_a, expected_b = column * n / total, column * m / total
        statistic += (a - expected_a) ** 2 / expected_a + (b - expected_b) ** 2 / expected_b
    return _gamma_q((len(pairs) - 1) / 2, statistic / 2)


def _gamma_q(a: float, x: float) -> float:
    """Regularized upper incomplete gamma Q(a, x), the chi-squared survival function's core
    (series below a + 1, Lentz's continued fraction above; Numerical Recipes 6.2)."""
    if x <= 0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        denominator = a
        for _ in range(1000):
            denominator += 1
            term *= x / denominator
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)


@dataclass(frozen=True)
class Comparison:
    kind: Kind
    psi: float
    statistic: float  # KS distance (numeric) or Jensen-Shannon distance (categorical)
    p_value: float  # KS (numeric) or chi-squared (categorical)
    drifted: bool
    live_count: int  # values seen, missing ones included
    reference_count: int


def compare(reference: FeatureReference, live: Sequence[int]) -> Comparison:
    """Live counts against the reference's, with the verdict described in the module doc."""
    base = list(reference.counts)
    live = list(live[: len(base)]) + [0] * (len(base) - len(live))
    n_live = sum(live)
    stability = psi(base, live)
    if reference.kind == "numeric":
        # the CDF is over numbers only; a change in the missing share shows in PSI
        statistic = ks_statistic(base[:-1], live[:-1])
        p_value = ks_p_value(statistic, sum(base[:-1]), sum(live[:-1]))
    else:
        statistic = js_distance(base, live)
        p_value = chi2_p_value(base, live)
    drifted = n_live >= MIN_LIVE and (
        stability >= PSI_DRIFT or (p_value < P_DRIFT and statistic >= MIN_EFFECT)
    )
    return Comparison(reference.kind, stability, statistic, p_value, drifted, n_live, sum(base))
