"""A network partition between Kafka nodes: each node of the cluster in a network
namespace of its own, and nftables rules that cut one node off its peers.

Every node runs inside its own namespace (``ip netns exec``) on an address of its own
(``10.231.N.11`` to ``.13``), joined to the host by a veth pair on one bridge whose
host address (``.1``) the services and the test connect from. The three listeners of
a node share its address, so the cut is by address *and* port: inside the partitioned
node's namespace, nftables drops every packet between it and the other nodes'
replication (MTLS) and controller listeners, in both directions and for connections
either side opened, while its client listener stays reachable from the host. The
packets are dropped, not refused: a partition is silence, the peers only learn of it
by their timeouts. Why not Toxiproxy between the nodes: a proxy has to stand on the
address a node dials, so the static quorum's voters and the advertised replication
addresses would name proxies, not nodes; a namespace lets the nodes talk directly, as
in production, and the cut sits in the kernel. Why not a uid match (``meta skuid``)
on loopback: it sees only the sending socket, and the peers' packets to the cut node
come from the peers' own sockets, so only the cut node's half of each connection could
be matched (a one-way cut, not a partition), and the node would need a uid of its own
owning its files.

Needs root, ``ip`` and ``nft`` (``deploy/tools/netfilter.py`` installs them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

from deploy.kafka.launcher import KafkaBroker, KafkaCluster

TABLE = "docket_partition"


async def run(*command: str, check: bool = True, stdin: str | None = None) -> str:
    """Run ``command`` (``stdin`` its input); its output, or ``RuntimeError`` with it
    when it fails."""
    done = await asyncio.to_thread(
        subprocess.run, list(command), input=stdin, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _free_subnet() -> int:
    """A third byte ``N`` such that 10.231.N.0/24 is not routed on this host yet."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    for _ in range(100):
        candidate = secrets.randbelow(250) + 1
        if f"10.231.{candidate}." not in routes:
            return candidate
    raise RuntimeError("no free 10.231.N.0/24 subnet")


@dataclass
class NodeNetwork:
    """A bridge on the host and one namespace per node (ids 1..size)."""

    token: str
    subnet: int
    size: int = 3

    @classmethod
    def new(cls, size: int = 3) -> NodeNetwork:
        return cls(secrets.token_hex(3), _free_subnet(), size)

    @property
    def bridge(self) -> str:
        return f"dkp{self.token}br"

    @property
    def host_address(self) -> str:
        """The host's address on the bridge: where the services' connections come from."""
        return f"10.231.{self.subnet}.1"

    def address(self, node_id: int) -> str:
        return f"10.231.{self.subnet}.{10 + node_id}"

    def namespace(self, node_id: int) -> str:
        return f"docket-part-{self.token}-{node_id}"

    @property
    def hosts(self) -> dict[int, str]:
        return {node_id: self.address(node_id) for node_id in range(1, self.size + 1)}

    @property
    def namespaces(self) -> dict[int, str]:
        return {node_id: self.namespace(node_id) for node_id in range(1, self.size + 1)}

    async def create(self) -> None:
        prefix = f"10.231.{self.subnet}"
        await run("ip", "link", "add", self.bridge, "type", "bridge")
        await run("ip", "addr", "add", f"{prefix}.1/24", "dev", self.bridge)
        await run("ip", "link", "set", self.bridge, "up")
        for node_id, namespace in self.namespaces.items():
            outside, inside = f"dkp{self.token}h{node_id}", f"dkp{self.token}n{node_id}"
            await run("ip", "netns", "add", namespace)
            await run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
            await run("ip", "link", "set", inside, "netns", namespace)
            await run("ip", "link", "set", outside, "master", self.bridge, "up")
            inner = ("ip", "netns", "exec", namespace, "ip")
            await run(*inner, "addr", "add", f"{self.address(node_id)}/24", "dev", inside)
            await run(*inner, "link", "set", inside, "up")
            await run(*inner, "link", "set", "lo", "up")

    async def delete(self) -> None:
        """Remove the namespaces (their veth pairs and nftables rules go with them)
        and the bridge."""
        for namespace in self.namespaces.values():
            await run("ip", "netns", "del", namespace, check=False)
        await run("ip", "link", "del", self.bridge, check=False)


def ruleset(node: KafkaBroker, peers: Iterable[KafkaBroker]) -> str:
    """nftables rules for ``node``'s namespace cutting it off the ``peers``'
    replication and controller listeners and them off its own, both directions."""
    peers = list(peers)
    addresses = ", ".join(peer.host for peer in peers)
    own_ports = f"{node.mtls_port}, {node.controller_port}"
    peer_listeners = ", ".join(
        f"{peer.host} . {port}" for peer in peers for port in (peer.mtls_port, peer.controller_port)
    )
    return f"""
table inet {TABLE} {{
    chain input {{
        type filter hook input priority filter; policy accept;
        ip saddr {{ {addresses} }} tcp dport {{ {own_ports} }} counter drop
        ip saddr . tcp sport {{ {peer_listeners} }} counter drop
    }}
    chain output {{
        type filter hook output priority filter; policy accept;
        ip daddr . tcp dport {{ {peer_listeners} }} counter drop
        ip daddr {{ {addresses} }} tcp sport {{ {own_ports} }} counter drop
    }}
}}
"""


async def partition(cluster: KafkaCluster, node_id: int) -> str:
    """Cut node ``node_id`` off the other nodes (see :func:`ruleset`); the rules."""
    node = cluster.nodes[node_id]
    assert node.netns is not None, "the node has no namespace of its own"
    rules = ruleset(node, [n for i, n in cluster.nodes.items() if i != node_id])
    await run("ip", "netns", "exec", node.netns, "nft", "-f", "-", stdin=rules)
    return rules


async def dropped_packets(cluster: KafkaCluster, node_id: int) -> int:
    """How many packets the partition rules of ``node_id`` dropped so far."""
    namespace = cluster.nodes[node_id].netns
    assert namespace is not None
    command = ("nft", "-j", "list", "table", "inet", TABLE)
    listing = await run("ip", "netns", "exec", namespace, *command)
    total = 0
    for item in json.loads(listing)["nftables"]:
        for expression in item.get("rule", {}).get("expr", []):
            if "counter" in expression:
                total += int(expression["counter"]["packets"])
    return total


async def heal(cluster: KafkaCluster, node_id: int) -> None:
    namespace = cluster.nodes[node_id].netns
    assert namespace is not None
    await run("ip", "netns", "exec", namespace, "nft", "delete", "table", "inet", TABLE)


def quorum_leader(node: KafkaBroker) -> int:
    """The KRaft leader (active controller) as ``node`` last recorded it (-1: none)."""
    state = node.log_dir / "__cluster_metadata-0" / "quorum-state"
    with contextlib.suppress(FileNotFoundError, ValueError):
        return int(json.loads(state.read_text()).get("leaderId", -1))
    return -1
