"""Mean, spread and intervals of a study's per-seed results (scipy.stats).

Arms of a study share their seeds (same initialisation stream, same batch
order), so a difference between two arms is taken seed by seed and its
95 % interval is the paired t interval of ``scipy.stats.ttest_rel``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats

from vidconv.utils.table import Table

NO_DIFFERENCE = "no difference detectable with {n} seeds"


def _floats(values: Sequence[float], name: str) -> list[float]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(
            f"{name} must be a sequence of numbers, got {type(values).__name__}"
        )
    out = [float(v) for v in values]
    if len(out) < 2:
        raise ValueError(
            f"{name} needs at least 2 values (seeds) for a "
            f"spread, got {len(out)}"
        )
    return out


def summary(values: Sequence[float], *, level: float = 0.95) -> dict:
    """n, mean, sample sd and the t interval of the mean of ``values``."""
    xs = _floats(values, "values")
    n, mean = len(xs), sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return {
        "n": n,
        "mean": mean,
        "sd": sd,
        "low": mean - half,
        "high": mean + half,
    }


def paired_difference(
    a: Sequence[float], b: Sequence[float], *, level: float = 0.95
) -> dict:
    """``a - b`` seed by seed: mean, sd, the paired t interval, p-value.

    When every seed gives the same difference the interval is that point
    (scipy's would be undefined) and p is 0 unless the difference is 0.
    """
    xs, ys = _floats(a, "a"), _floats(b, "b")
    if len(xs) != len(ys):
        raise ValueError(
            f"a and b must hold one value per shared seed, "
            f"got {len(xs)} and {len(ys)}"
        )
    diffs = [x - y for x, y in zip(xs, ys)]
    out = summary(diffs, level=level)
    if out["sd"] == 0:
        out["p"] = 1.0 if out["mean"] == 0 else 0.0
        return out
    test = stats.ttest_rel(xs, ys)
    interval = test.confidence_interval(level)
    return out | {
        "low": float(interval.low),
        "high": float(interval.high),
        "p": float(test.pvalue),
    }


def verdict(difference: dict, a: str, b: str, metric: str) -> str:
    """A sentence for a :func:`paired_difference`: which arm, or none."""
    low, high, n = difference["low"], difference["high"], difference["n"]
    if low <= 0 <= high:
        return f"{metric}: " + NO_DIFFERENCE.format(n=n)
    higher, lower = (a, b) if difference["mean"] > 0 else (b, a)
    return (
        f"{metric}: {higher} higher than {lower} by "
        f"{abs(difference['mean']):.3g} (95 % CI {low:.3g} to "
        f"{high:.3g}, {n} seeds)"
    )


def arm_table(
    per_arm: dict[str, Sequence[float]], metric: str, digits: int = 3
) -> Table:
    """One row per arm: mean +- sd and the 95 % interval of ``metric``."""
    rows = []
    for arm, values in per_arm.items():
        s = summary(values)
        rows.append(
            {
                "arm": arm,
                "seeds": s["n"],
                f"{metric} (mean ± sd)": f"{s['mean']:.{digits}f} ± {s['sd']:.{digits}f}",
                "95 % CI": f"{s['low']:.{digits}f} to {s['high']:.{digits}f}",
            }
        )
    return Table(rows)


def compare(
    per_arm: dict[str, Sequence[float]],
    metric: str,
    *,
    baseline: str | None = None,
    digits: int = 3,
) -> Table:
    """Every other arm against ``baseline`` (default: the first arm).

    One row per arm: its mean ± sd, the paired difference from the
    baseline with its 95 % interval, and the :func:`verdict`.
    """
    if not isinstance(per_arm, dict) or len(per_arm) < 2:
        raise ValueError(
            f"per_arm must map at least two arms to their "
            f"per-seed values, got {per_arm!r:.80}"
        )
    base = next(iter(per_arm)) if baseline is None else baseline
    if base not in per_arm:
        raise ValueError(
            f"baseline must be one of {list(per_arm)}, got {base!r}"
        )
    rows = []
    for arm, values in per_arm.items():
        if arm == base:
            continue
        s, b = summary(values), summary(per_arm[base])
        d = paired_difference(values, per_arm[base])
        rows.append(
            {
                "metric": metric,
                base: f"{b['mean']:.{digits}f} ± {b['sd']:.{digits}f}",
                arm: f"{s['mean']:.{digits}f} ± {s['sd']:.{digits}f}",
                "difference": f"{d['mean']:+.{digits}f}",
                "95 % CI": f"{d['low']:+.{digits}f} to {d['high']:+.{digits}f}",
                "verdict": verdict(d, arm, base, metric).split(": ", 1)[1],
            }
        )
    return Table(rows)
