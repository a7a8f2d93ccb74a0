"""Network faults between processes: a Toxiproxy server (``deploy/tools/toxiproxy.py``)
with one proxy per link (a service instance to PostgreSQL, the services to the broker),
and the faults the chaos suite puts on a link.

Each fault is one of Toxiproxy's own mechanisms, named for what it does to the link:

- ``cut``: the proxy disabled (every connection closed, new ones refused), longer than
  the Kafka session timeout (10 s), then enabled again.
- ``half_drop``: half the connections lose everything they carry, each direction on
  its own (a ``timeout`` toxic with ``timeout=0`` and ``toxicity=0.5`` per stream).
  TCP retransmits single lost packets, so a lossy link shows up to an application as
  connections that stall; this gives that, on a random half of them.
- ``slow``: 2 s latency each way (``latency`` toxics on both streams).
- ``one_way``: the half-open connection. What the service sends still arrives, but
  nothing comes back (a ``timeout`` toxic with ``timeout=0`` on the downstream only):
  the broker may already have fenced the member while it goes on waiting.

Removing a ``timeout`` toxic closes the connections it held (Toxiproxy's cleanup), so
the clients reconnect afterwards.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from deploy.tools import toxiproxy
from tests.fixtures.servers import free_port

FaultKind = Literal["cut", "half_drop", "slow", "one_way"]
FAULT_KINDS: Final[tuple[FaultKind, ...]] = ("cut", "half_drop", "slow", "one_way")
#: Longer than the consumers' session timeout (10 s, ``shared/kafka.py``).
CUT_S: Final = 14.0
LATENCY_MS: Final = 2000


@dataclass(frozen=True)
class Link:
    """One proxy: clients connect to ``listen``, the proxy to ``upstream``."""

    name: str
    listen: str
    upstream: str
    api: str

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> None:
        async with httpx.AsyncClient(base_url=self.api, timeout=10) as client:
            response = await client.request(method, path, json=body)
            response.raise_for_status()

    async def enable(self, enabled: bool) -> None:
        await self._call("POST", f"/proxies/{self.name}", {"enabled": enabled})

    async def add_toxic(
        self, kind: str, stream: str, attributes: dict[str, int], toxicity: float = 1.0
    ) -> str:
        name = f"{kind}-{stream}-{secrets.token_hex(3)}"
        await self._call(
            "POST",
            f"/proxies/{self.name}/toxics",
            {
                "name": name,
                "type": kind,
                "stream": stream,
                "toxicity": toxicity,
                "attributes": attributes,
            },
        )
        return name

    async def remove_toxic(self, name: str) -> None:
        await self._call("DELETE", f"/proxies/{self.name}/toxics/{name}")


async def inject(links: list[Link], kind: FaultKind, seconds: float) -> None:
    """Put fault ``kind`` on every link for ``seconds``, then take it off."""
    if kind == "cut":
        for link in links:
            await link.enable(False)
        try:
            await asyncio.sleep(seconds)
        finally:
            for link in links:
                await link.enable(True)
        return
    toxics: list[tuple[Link, str]] = []
    try:
        for link in links:
            if kind == "half_drop":
                for stream in ("upstream", "downstream"):
                    name = await link.add_toxic("timeout", stream, {"timeout": 0}, 0.5)
                    toxics.append((link, name))
            elif kind == "slow":
                for stream in ("upstream", "downstream"):
                    name = await link.add_toxic("latency", stream, {"latency": LATENCY_MS})
                    toxics.append((link, name))
            else:  # one_way: the service is heard, but hears nothing back
                toxics.append((link, await link.add_toxic("timeout", "downstream", {"timeout": 0})))
        await asyncio.sleep(seconds)
    finally:
        for link, name in toxics:
            await link.remove_toxic(name)


class Toxiproxy:
    """A ``toxiproxy-server`` process on a free loopback port, and its proxies."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "toxiproxy.log"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        binary = await asyncio.to_thread(toxiproxy.ensure)
        with self.log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                str(binary),
                "-host",
                "127.0.0.1",
                "-port",
                str(self.port),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        async with httpx.AsyncClient(timeout=2) as client:
            for _ in range(100):
                try:
                    if (await client.get(f"{self.api}/version")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"toxiproxy not up: {self.log_path.read_text()[-2000:]}")

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()

    async def link(self, name: str, upstream: str, listen_port: int = 0) -> Link:
        """A new proxy to ``upstream`` (``host:port``) on ``listen_port`` (0: a free one)."""
        async with httpx.AsyncClient(base_url=self.api, timeout=10) as client:
            response = await client.post(
                "/proxies",
                json={
                    "name": name,
                    "listen": f"127.0.0.1:{listen_port}",
                    "upstream": upstream,
                    "enabled": True,
                },
            )
            response.raise_for_status()
            listen = str(response.json()["listen"])
        return Link(name, listen, upstream, self.api)


def through(url: str, link: Link) -> str:
    """``url`` (a PostgreSQL URL) with its host and port replaced by ``link``'s."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{link.listen}" if credentials else link.listen
    return urlunsplit(parts._replace(netloc=netloc))


def host_port(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}"
