"""Issue #20: a long day. A steady stream of requests with amendments and decisions for
``DOCKET_SOAK_MINUTES`` (default 60) with a fault every ``DOCKET_SOAK_FAULT_EVERY_S``
(default 300 s: in turn a SIGKILL of a consumer instance and each network fault kind on
one instance's database link), sampling every 15 s the resident memory of every
service process and the consumer lag of every group.

``make soak`` runs it (not part of ``make test``: ``-m soak`` is deselected by
default). It writes ``docs/soak.json`` and the memory and lag curves ``docs/soak.png``
(``DOCKET_SOAK_OUT`` names another stem), prints a ``SOAK SUMMARY`` line, and fails when
any service's memory grew by 20 % or more from its early level to the end, or when the
durable state is not clean (as in ``test_chaos.py``)."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from deploy.kafka.security import KafkaAccess
from shared import topics
from tests.chaos.harness import REPO, Mailbox, System, durable_state
from tests.chaos.network import FAULT_KINDS, inject
from tests.chaos.test_chaos import committed_lag

pytestmark = [pytest.mark.integration, pytest.mark.soak]

SAMPLE_S = 15.0
MAX_GROWTH = 0.20


def resident_mib(pid: int) -> float:
    """VmRSS of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for {pid}")


async def lags(kafka: KafkaAccess, system: System) -> dict[str, int]:
    groups = system.groups
    return {
        "classifier": await committed_lag(kafka, groups["classifier"], (topics.REQUEST_RECEIVED,)),
        "notifier": await committed_lag(
            kafka, groups["notifier"], (topics.REQUEST_CLASSIFIED, topics.REQUEST_AMENDED)
        ),
        "audit-ingest": await committed_lag(
            kafka, f"{groups['audit']}-ingest", topics.AUDITED_TOPICS
        ),
        # the log writer: the ledger into the verifiable log
        "audit-log": await committed_lag(kafka, f"{groups['audit']}-log", (topics.AUDIT_LEDGER,)),
    }


def chart(samples: list[dict[str, Any]], faults: list[tuple[float, str]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s["t"] / 60 for s in samples]
    figure, (memory, lag) = plt.subplots(2, 1, figsize=(12, 8), sharex=True)
    for name in samples[0]["rss_mib"]:
        memory.plot(minutes, [s["rss_mib"].get(name, float("nan")) for s in samples], label=name)
    memory.set_ylabel("resident memory (MiB)")
    memory.set_title("Soak: memory per service process")
    memory.legend(fontsize=7, ncol=4)
    for group in samples[0]["lag"]:
        lag.plot(minutes, [s["lag"][group] for s in samples], label=group)
    lag.set_ylabel("consumer lag (records)")
    lag.set_xlabel("minutes")
    lag.set_title("Consumer lag per group (committed offsets)")
    lag.legend(fontsize=8)
    for at, name in faults:
        for axis in (memory, lag):
            axis.axvline(at / 60, color="grey", linestyle=":", linewidth=0.8)
        lag.annotate(name, (at / 60, 0), rotation=90, fontsize=6, va="bottom")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)


async def test_soak(chaos_system: System, mailbox: Mailbox, kafka_access: KafkaAccess) -> None:
    system = chaos_system
    minutes = float(os.environ.get("DOCKET_SOAK_MINUTES", "60"))
    fault_every_s = float(os.environ.get("DOCKET_SOAK_FAULT_EVERY_S", "300"))
    out = Path(os.environ.get("DOCKET_SOAK_OUT", str(REPO / "docs" / "soak")))
    duration_s = minutes * 60
    started = time.monotonic()
    samples: list[dict[str, Any]] = []
    faults: list[tuple[float, str]] = []
    stop = asyncio.Event()
    stream = asyncio.create_task(system.stream(stop, 0.5))

    async def sample() -> None:
        samples.append(
            {
                "t": time.monotonic() - started,
                "rss_mib": {
                    i.name: resident_mib(i.process.pid)
                    for i in system.instances.values()
                    if i.running and i.process is not None
                },
                "lag": await lags(kafka_access, system),
                "sent": system.counts.sent,
            }
        )

    async def fault(number: int) -> None:
        turn = number % (len(FAULT_KINDS) + 1)
        copy = "ab"[number % 2]
        if turn == len(FAULT_KINDS):
            name = "sigkill"
            victim = system.instances[f"notifier-{copy}" if number % 2 else f"classifier-{copy}"]
            await victim.kill()
            await asyncio.sleep(1.0)
            await system.restart(victim)
        else:
            name = FAULT_KINDS[turn]
            await inject([system.database_links[f"audit-{copy}"]], FAULT_KINDS[turn], 12.0)
        faults.append((time.monotonic() - started, name))
        system.counts.faults[name] += 1

    next_sample, next_fault, number = 0.0, fault_every_s, 0
    try:
        while (elapsed := time.monotonic() - started) < duration_s:
            assert not stream.done(), stream.exception()
            if elapsed >= next_sample:
                await sample()
                next_sample += SAMPLE_S
            if elapsed >= next_fault:
                await fault(number)
                number += 1
                next_fault += fault_every_s
            await asyncio.sleep(1.0)
    finally:
        stop.set()
        await stream
    state = await durable_state(system, mailbox, drain_s=300)
    await sample()  # after the drain: the lag is back to zero

    # Early level: the median of the samples in the run's second tenth (past start-up
    # and the first caches); end: the median of the last three before the drain.
    tenth = max(1, len(samples) // 10)
    growth: dict[str, float] = {}
    for name in samples[0]["rss_mib"]:
        early = statistics.median(s["rss_mib"][name] for s in samples[tenth : 2 * tenth])
        late = statistics.median(s["rss_mib"][name] for s in samples[-4:-1])
        growth[name] = late / early - 1
    report = {
        "minutes": minutes,
        "requests_sent": system.counts.sent,
        "accepted": system.counts.accepted,
        "faults": dict(system.counts.faults),
        "memory_growth": growth,
        "max_lag": {g: max(s["lag"][g] for s in samples) for g in samples[0]["lag"]},
        "final_lag": samples[-1]["lag"],
        "durable_state": state.summary(),
        "samples": samples,
        "fault_times_s": faults,
    }
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    chart(samples, faults, out.with_suffix(".png"))
    print(
        f"\nSOAK SUMMARY minutes={minutes:.0f} requests_sent={system.counts.sent}"
        f" accepted={system.counts.accepted} faults={dict(system.counts.faults)}"
        f" memory_growth={ {k: f'{v:+.1%}' for k, v in growth.items()} }"
        f" max_lag={report['max_lag']} final_lag={report['final_lag']} {state.summary()}",
        flush=True,
    )
    state.assert_clean()
    assert {k: v for k, v in growth.items() if v >= MAX_GROWTH} == {}
    assert set(samples[-1]["lag"].values()) == {0}
