"""The benchmark's results: targets with pass/fail, the printed table, the comparison
with an earlier ``latest.json`` and the PNG chart."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Metrics where smaller is better (latencies, times, memory).
LOWER_IS_BETTER = ("_ms", "_us", "_mb", "_s")


@dataclass(frozen=True)
class Target:
    name: str
    metric: str
    op: str  # ">=" or "<="
    threshold: float

    def check(self, metrics: dict[str, float]) -> dict[str, Any]:
        value = metrics.get(self.metric, math.nan)
        compare: Callable[[float, float], bool] = operator.ge if self.op == ">=" else operator.le
        passed = not math.isnan(value) and compare(value, self.threshold)
        return {
            "name": self.name,
            "metric": self.metric,
            "op": self.op,
            "threshold": self.threshold,
            "value": value,
            "pass": passed,
        }


def targets(moderate_rate: int) -> list[Target]:
    """The targets of issue #9 for this machine."""
    return [
        Target("end-to-end sustained", "e2e.sustained_per_s", ">=", 500),
        Target(
            f"end-to-end p99 at {moderate_rate} req/s",
            f"e2e.1x.rate{moderate_rate}.e2e_p99_ms",
            "<=",
            250,
        ),
        Target("pipeline / raw passthrough", "e2e.ratio_to_baseline", ">=", 0.35),
        Target("intake accepted at saturation", "intake.accepted_per_s", ">=", 1500),
        Target(
            "audit append (batches of up to 500, as the log writer reads them)",
            "audit.append_per_s.batch500",
            ">=",
            5000,
        ),
        Target("inclusion proof at 10^6 leaves", "audit.proof.1000000.inclusion_ms", "<=", 5),
    ]


def lower_is_better(metric: str) -> bool:
    if metric.endswith("per_s") or "per_s." in metric or metric.endswith("ratio_to_baseline"):
        return False
    if ".peak_rss_mb." in metric:
        return True
    return metric.endswith(LOWER_IS_BETTER) or metric.endswith("incomplete")


def _fmt(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4f}"


def table(metrics: dict[str, float], checks: list[dict[str, Any]]) -> str:
    width = max(len(k) for k in metrics) + 2
    lines = [f"{'metric':<{width}}{'value':>14}", "-" * (width + 14)]
    lines += [f"{name:<{width}}{_fmt(value):>14}" for name, value in metrics.items()]
    lines += ["", "targets:"]
    for check in checks:
        verdict = "PASS" if check["pass"] else "FAIL"
        lines.append(
            f"  {verdict}  {check['name']:<44} {_fmt(check['value']):>10} "
            f"{check['op']} {_fmt(check['threshold'])}  ({check['metric']})"
        )
    return "\n".join(lines)


def compare(new: dict[str, float], old: dict[str, float]) -> str:
    """new/old per metric present in both, marking the direction that is better."""
    common = [k for k in new if k in old]
    if not common:
        return "no metric in common with the earlier run"
    width = max(len(k) for k in common) + 2
    lines = [f"{'metric':<{width}}{'new':>12}{'old':>12}{'new/old':>10}", "-" * (width + 36)]
    for key in common:
        a, b = new[key], old[key]
        ratio = a / b if b not in (0, 0.0) and not math.isnan(b) else math.nan
        better = ""
        if not math.isnan(ratio) and abs(ratio - 1) >= 0.05:
            improved = ratio < 1 if lower_is_better(key) else ratio > 1
            better = "  better" if improved else "  worse"
        lines.append(f"{key:<{width}}{_fmt(a):>12}{_fmt(b):>12}{_fmt(ratio):>10}{better}")
    return "\n".join(lines)


def chart(metrics: dict[str, float], rates: list[int], instances: list[int], path: Path) -> None:
    """Throughput per stage (baseline beside them) and latency per stage and rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = {
        "raw Kafka\npassthrough": "baseline.messages_per_s",
        "intake\n(saturation)": "intake.accepted_per_s",
        **{f"end to end\n{n}x": f"e2e.{n}x.sustained_per_s" for n in instances},
        "classify\n(pure)": "classifier.verdicts_per_s",
        "audit append\nbatch 1": "audit.append_per_s.batch1",
        "audit append\nbatch 500": "audit.append_per_s.batch500",
        "audit\nrebuild": "audit.rebuild_events_per_s",
        "audit\nreplay": "audit.replay_events_per_s",
    }
    shown = {label: metrics[key] for label, key in stages.items() if key in metrics}
    figure, (left, right) = plt.subplots(1, 2, figsize=(15, 6))
    colours = ["#777777"] + ["#1f77b4"] * (len(shown) - 1)
    left.bar(list(shown), list(shown.values()), color=colours)
    left.set_yscale("log")
    left.set_ylabel("per second (log)")
    left.set_title("Throughput per stage (grey: raw Kafka baseline)")
    left.tick_params(axis="x", labelsize=8)
    for i, value in enumerate(shown.values()):
        left.annotate(f"{value:,.0f}", (i, value), ha="center", va="bottom", fontsize=8)

    groups: list[str] = []
    series: dict[str, list[float]] = {"p50": [], "p95": [], "p99": []}
    for n in instances:
        for rate in rates:
            groups.append(f"e2e {n}x\n{rate}/s")
            for q in series:
                series[q].append(metrics.get(f"e2e.{n}x.rate{rate}.e2e_{q}_ms", math.nan))
    for rate in rates:
        groups.append(f"intake\n{rate}/s")
        for q in series:
            series[q].append(metrics.get(f"e2e.1x.rate{rate}.intake_{q}_ms", math.nan))
    width = 0.27
    for offset, (q, values) in enumerate(series.items()):
        right.bar([i + (offset - 1) * width for i in range(len(groups))], values, width, label=q)
    right.set_xticks(range(len(groups)), groups, fontsize=8)
    right.set_yscale("log")
    right.set_ylabel("ms (log)")
    right.axhline(250, color="red", linestyle="--", linewidth=1, label="e2e p99 target")
    right.set_title("Latency per stage and offered rate")
    right.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
