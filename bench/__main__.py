"""``make bench``: Docket's throughput, latency and memory on the real stack, in one run.

Starts Kafka, PostgreSQL (durable commits) and the four services as processes, then
measures: a raw aiokafka passthrough baseline; intake at saturation and at fixed rates
(load from a separate process); end to end, from POST to the audit log holding the
request's RequestReceived, RequestClassified and a notifier decision, with one and two
instances of classifier and notifier; the pure classifier; audit appends, Merkle proofs,
``docket audit rebuild`` and a ledger replay; each service's peak RSS. Writes
``bench/results/latest.json`` and ``latest.png``, prints a table with the targets, and
with ``--compare OLD.json`` the ratios new/old.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import audit_append, classifier_rate, cpu, pipeline, report, stages
from bench.cases import REPO
from bench.stack import Stack

RESULTS = REPO / "bench" / "results"


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    add = parser.add_argument
    add("--rates", type=int, nargs="+", default=[50, 200, 500], help="e2e fixed rates, req/s")
    add("--duration", type=float, default=10.0, help="seconds of load per fixed rate")
    add("--moderate-rate", type=int, default=200, help="rate of the latency targets")
    add("--instances", type=int, nargs="+", default=[1, 2], help="classifier+notifier counts")
    add("--saturation-count", type=int, default=2000, help="requests of the saturation run")
    add("--concurrency", type=int, default=64, help="in flight during the saturation run")
    add("--drain-timeout", type=float, default=90.0, help="wait for completion, s")
    add("--baseline-count", type=int, default=20000, help="raw passthrough messages")
    add("--append-events", type=int, default=5000, help="events per audit append run")
    add("--proof-sizes", type=int, nargs="+", default=list(audit_append.PROOF_SIZES))
    add("--proof-samples", type=int, default=1000)
    add("--classifier-seconds", type=float, default=5.0)
    add("--replay-timeout", type=float, default=300.0)
    add("--profile", action="store_true", help="also profile intake and audit (pyinstrument)")
    add("--profile-seconds", type=float, default=10.0)
    add("--profile-rate", type=float, default=150.0)
    add("--log-level", default="INFO", help="the services' DOCKET_LOG_LEVEL")
    add("--out", type=Path, default=RESULTS / "latest.json")
    add("--chart", type=Path, default=RESULTS / "latest.png")
    add("--compare", type=Path, help="an earlier latest.json: print new/old per metric")
    add("--keep-work", action="store_true", help="keep the broker/database/logs directory")
    args = parser.parse_args(argv)
    if args.moderate_rate not in args.rates:
        args.rates = sorted({*args.rates, args.moderate_rate})
    return args


async def stack_phases(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    details: dict[str, Any] = {}
    stack = Stack(work, log_level=args.log_level)
    say(f"starting Kafka, PostgreSQL and the services (work dir {work}) ...")
    began = time.perf_counter()
    try:
        await stack.start()
        say(f"stack ready in {time.perf_counter() - began:.0f} s")

        say(f"audit append: {args.append_events} events, batch 1 and 500 ...")
        for batch in (1, 500):
            rate = await audit_append.append_rate(stack.admin_url, args.append_events, batch)
            metrics[f"audit.append_per_s.batch{batch}"] = rate

        say(f"baseline: raw aiokafka passthrough of {args.baseline_count} envelopes ...")
        baseline = await pipeline.baseline_passthrough(stack.kafka, args.baseline_count)
        details["baseline"] = baseline
        metrics["baseline.messages_per_s"] = baseline["messages_per_s"]
        metrics["baseline.produce_acked_per_s"] = baseline["produce_acked_per_s"]

        load_dir = work / "load"
        load_dir.mkdir(exist_ok=True)
        async with pipeline.CompletionTracker(stack.database_url) as tracker:
            for n in args.instances:
                await stack.scale(n)
                # joins and rebalances settle before the clock starts
                await pipeline.end_to_end(
                    stack,
                    tracker,
                    load_dir / f"warm-{n}.json",
                    ["--count", "30", "--concurrency", "4"],
                    args.drain_timeout,
                )
                say(f"{n}x classifier+notifier: saturation, {args.saturation_count} requests")
                await settle(stack, args.drain_timeout)
                pids = {p.popen.pid: name for name, ps in stack.services.items() for p in ps}
                cpu_before = cpu.snapshot(pids)
                async with stages.sampled(stack.kafka, stack.groups()) as traces:
                    run = await pipeline.end_to_end(
                        stack,
                        tracker,
                        load_dir / f"sat-{n}.json",
                        [
                            "--count",
                            str(args.saturation_count),
                            "--concurrency",
                            str(args.concurrency),
                        ],
                        args.drain_timeout,
                    )
                cost = cpu.per_request(
                    cpu_before, cpu.snapshot(pids), run["completed"], os.cpu_count() or 1
                )
                details[f"e2e.{n}x.cpu_per_request"] = cost
                for key, value in cost.items():
                    metrics[f"cpu.{n}x.{key}"] = value
                details[f"e2e.{n}x.saturation"] = run
                say(f"  {_brief(run)}")
                by_stage = stages.summarise(traces, run["accepted"])
                details[f"e2e.{n}x.stages"] = by_stage
                for stage, figures in by_stage.items():
                    for key in ("busy_records_per_s", "capacity_requests_per_s"):
                        if key in figures:
                            metrics[f"stage.{n}x.{stage}.{key}"] = figures[key]
                say(
                    "  stage capacity (req/s): "
                    + ", ".join(
                        f"{stage} {figures.get('capacity_requests_per_s', 0):.0f}"
                        for stage, figures in by_stage.items()
                    )
                )
                say(
                    "  CPU ms per request: "
                    + ", ".join(
                        f"{k.removesuffix('_ms')} {v:.1f}"
                        for k, v in cost.items()
                        if k.endswith("_ms")
                    )
                    + f"; the cores allow {cost.get('ceiling_requests_per_s', 0):.0f} req/s"
                )
                metrics[f"e2e.{n}x.sustained_per_s"] = run["e2e_per_s"]
                metrics[f"e2e.{n}x.saturation_incomplete"] = run["incomplete"]
                if n == args.instances[0]:
                    metrics["intake.accepted_per_s"] = run["intake_accepted_per_s"]
                    metrics["intake.saturation_p99_ms"] = run["intake_p99_ms"]
                for rate in args.rates:
                    await settle(stack, args.drain_timeout)
                    say(f"{n}x: {rate} req/s for {args.duration:.0f} s ...")
                    run = await pipeline.end_to_end(
                        stack,
                        tracker,
                        load_dir / f"rate-{n}-{rate}.json",
                        ["--rate", str(rate), "--duration", str(args.duration)],
                        args.drain_timeout,
                    )
                    details[f"e2e.{n}x.rate{rate}"] = run
                    say(f"  {_brief(run)}")
                    for key in (
                        "offered_per_s",
                        "e2e_per_s",
                        "incomplete",
                        "e2e_p50_ms",
                        "e2e_p95_ms",
                        "e2e_p99_ms",
                        "intake_p50_ms",
                        "intake_p95_ms",
                        "intake_p99_ms",
                    ):
                        metrics[f"e2e.{n}x.rate{rate}.{key}"] = run[key]
                    if n == args.instances[0] and rate == args.moderate_rate:
                        metrics["intake.p50_ms_at_moderate"] = run["intake_p50_ms"]
                        metrics["intake.p99_ms_at_moderate"] = run["intake_p99_ms"]
        sustained = [metrics[f"e2e.{n}x.sustained_per_s"] for n in args.instances]
        metrics["e2e.sustained_per_s"] = max(sustained)
        metrics["e2e.ratio_to_baseline"] = (
            metrics["e2e.sustained_per_s"] / metrics["baseline.messages_per_s"]
        )
        for label, peak in sorted(stack.peak_rss_mb().items()):
            metrics[f"memory.peak_rss_mb.{label}"] = peak

        say("docket audit rebuild ...")
        rebuild = await pipeline.rebuild_rate(stack)
        details["rebuild"] = rebuild
        metrics["audit.rebuild_events_per_s"] = rebuild["events_per_s"]
        say("replaying the ledger into a fresh audit database ...")
        replay = await pipeline.replay_rate(stack, args.replay_timeout)
        details["replay"] = replay
        metrics["audit.replay_events_per_s"] = replay["events_per_s"]
        metrics["audit.replay_events_per_s_with_startup"] = replay["events_per_s_with_startup"]

        if args.profile:
            from bench import profiling

            say(f"profiling intake and audit at {args.profile_rate:.0f} req/s ...")

            async def load(rate: float, seconds: float) -> None:
                async with pipeline.CompletionTracker(stack.database_url) as tracker:
                    await pipeline.end_to_end(
                        stack,
                        tracker,
                        load_dir / "profile.json",
                        ["--rate", str(rate), "--duration", str(seconds)],
                        args.drain_timeout,
                    )

            details["profile"] = await profiling.profile(
                stack, args.out.parent, args.profile_rate, args.profile_seconds, load
            )
    finally:
        say("stopping the stack ...")
        await stack.stop()
        if not args.keep_work:
            stack.remove_data()
    return {"metrics": metrics, "details": details}


async def settle(stack: Stack, timeout_s: float) -> None:
    """Let the previous phase's tail (notices still being sent and audited) finish."""
    waited = await stages.wait_until_idle(stack.kafka, stack.groups(), timeout_s=timeout_s)
    if waited > 4.0:
        say(f"  waited {waited:.0f} s for the previous phase to drain")


def _brief(run: dict[str, Any]) -> str:
    return (
        f"offered {run['offered_per_s']:.0f}/s, intake {run['intake_accepted_per_s']:.0f}/s "
        f"p99 {run['intake_p99_ms']:.0f} ms; e2e {run['e2e_per_s']:.0f}/s "
        f"p50 {run['e2e_p50_ms']:.0f} p99 {run['e2e_p99_ms']:.0f} ms; "
        f"{run['completed']}/{run['accepted']} complete"
    )


def offline_phases(args: argparse.Namespace) -> dict[str, float]:
    metrics: dict[str, float] = {}
    say(f"classifier alone for {args.classifier_seconds:.0f} s ...")
    rate = classifier_rate.measure(args.classifier_seconds)
    metrics["classifier.verdicts_per_s"] = rate.verdicts_per_s
    for size in args.proof_sizes:
        say(f"Merkle proofs at {size:,} leaves ...")
        times = audit_append.proof_times(size, args.proof_samples)
        for name in ("inclusion", "verify_inclusion", "consistency", "verify_consistency"):
            metrics[f"audit.proof.{size}.{name}_ms"] = times[f"{name}_us"] / 1000
        metrics[f"audit.proof.{size}.build_s"] = times["build_s"]
    return metrics


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="docket-bench-"))
    try:
        offline = offline_phases(args)
        online = asyncio.run(stack_phases(args, work))
    finally:
        if args.keep_work:
            say(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    metrics = {k: float(v) for k, v in sorted({**offline, **online["metrics"]}.items())}
    checks = [t.check(metrics) for t in report.targets(args.moderate_rate)]
    result = {
        "meta": {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "load_average_at_end": list(os.getloadavg()),
            "python": platform.python_version(),
            "seconds": time.perf_counter() - started,
            "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        },
        "metrics": {k: (None if math.isnan(v) else v) for k, v in metrics.items()},
        "targets": checks,
        "details": online["details"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    report.chart(metrics, args.rates, args.instances, args.chart)
    print()
    print(report.table(metrics, checks))
    print(f"\nwrote {args.out} and {args.chart} in {result['meta']['seconds']:.0f} s")
    if args.compare:
        old = json.loads(args.compare.read_text(encoding="utf-8"))["metrics"]
        old_metrics = {k: math.nan if v is None else float(v) for k, v in old.items()}
        print(f"\ncompared with {args.compare}:")
        print(report.compare(metrics, old_metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
