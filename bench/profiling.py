"""Where intake and the audit writer spend their time under load: both are restarted
under pyinstrument (a sampling profiler), load is sent for a few seconds, and the
sessions are reduced to the functions with the most time (file:line)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyinstrument.frame import Frame
from pyinstrument.renderers import ConsoleRenderer
from pyinstrument.session import Session

from bench.cases import REPO
from bench.stack import Process, Stack, stop_processes

APPLICATION = ("services/", "shared/")
#: Frames where the process waits rather than works.
IDLE = ("selectors.py:", "<built-in>:0|epoll.poll", "<built-in>:0|select.select")


@dataclass(frozen=True)
class HotSpot:
    where: str
    function: str
    self_s: float
    total_s: float
    #: total_s as a share of the busy (not waiting in select) time
    share: float


def _walk(frame: Frame, parent: str, seen: dict[str, list[float]], stack: set[str]) -> None:
    """Self and total time per function (``file:line|name``); the time of a synthetic
    ``[self]`` frame is its parent's self time."""
    if frame.is_synthetic:
        seen.setdefault(parent, [0.0, 0.0])[0] += frame.time
        return
    key = f"{_short(frame.file_path or '')}:{frame.line_no}|{frame.function}"
    entry = seen.setdefault(key, [0.0, 0.0])
    entry[0] += max(0.0, frame.time - sum(child.time for child in frame.children))
    if key not in stack:  # recursion: count a frame's total once per path
        entry[1] += frame.time
    for child in frame.children:
        _walk(child, key, seen, stack | {key})


def _short(path: str) -> str:
    for marker in ("site-packages/", f"/lib/python{sys.version_info[0]}.{sys.version_info[1]}/"):
        if marker in path:
            return path.split(marker, 1)[1]
    root = str(REPO) + "/"
    return path[len(root) :] if path.startswith(root) else path


def hot_spots(session_file: Path, top: int = 12) -> dict[str, list[HotSpot]]:
    """The frames with most self time, and the application frames (services/, shared/)
    with most total time, in a pyinstrument session."""
    session = Session.load(str(session_file))
    root = session.root_frame()
    if root is None:
        return {"self": [], "application": []}
    seen: dict[str, list[float]] = {}
    _walk(root, "", seen, set())
    idle = sum(s for key, (s, _) in seen.items() if key.startswith(IDLE))
    busy = max(root.time - idle, 1e-9)  # time not spent waiting in the event loop's select
    spots = [
        HotSpot(key.split("|")[0], key.split("|")[1], s, t, t / busy)
        for key, (s, t) in seen.items()
        if not key.startswith(IDLE)
    ]
    by_self = sorted(spots, key=lambda s: s.self_s, reverse=True)
    app = sorted(
        (s for s in spots if s.where.startswith(APPLICATION)), key=lambda s: s.total_s, reverse=True
    )
    return {"self": by_self[:top], "application": app[:top]}


def summarise(sessions: dict[str, Path], out_dir: Path) -> dict[str, dict[str, list[Any]]]:
    """Hot spots per profiled service; each text report to ``out_dir/profile-NAME.txt``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    found: dict[str, dict[str, list[Any]]] = {}
    for name, session in sessions.items():
        if not session.exists():
            continue
        renderer = ConsoleRenderer(unicode=False, color=False, short_mode=False)
        text = renderer.render(Session.load(str(session)))
        (out_dir / f"profile-{name}.txt").write_text(text, encoding="utf-8")
        found[name] = {
            kind: [spot.__dict__ for spot in listed] for kind, listed in hot_spots(session).items()
        }
    return found


async def profile(
    stack: Stack,
    out_dir: Path,
    rate: float,
    seconds: float,
    load: Callable[[float, float], Awaitable[None]],
) -> dict[str, dict[str, list[Any]]]:
    """Restart intake and audit under pyinstrument, send ``rate``/s for ``seconds``
    (``load`` is an awaitable factory taking the rate and duration), stop them, and
    return their hot spots; the text reports go to ``out_dir/profile-<name>.txt``."""
    wrapped: dict[str, tuple[Process, Path]] = {}
    for name in ("audit", "intake"):
        session = stack.work / f"profile-{name}.pyisession"
        wrapper = [sys.executable, "-m", "pyinstrument", "-r", "pyisession", "-o", str(session)]
        wrapped[name] = (await stack.replace(name, wrapper, f"{name}-profiled"), session)
    await load(rate, seconds)
    await asyncio.to_thread(stop_processes, [process for process, _ in wrapped.values()])
    sessions = {name: session for name, (_, session) in wrapped.items()}
    found = await asyncio.to_thread(summarise, sessions, out_dir)
    return found  # the last phase: the stack is stopped next, intake and audit already are
