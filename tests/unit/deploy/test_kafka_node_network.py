"""A Kafka node on an address of its own (a network namespace, the partition test):
its listeners, the cluster's voters and the brokers' certificate follow the address."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509

from deploy.kafka.launcher import HOST, KafkaCluster


def test_a_node_of_its_own_listens_and_votes_on_its_address(tmp_path: Path) -> None:
    cluster = KafkaCluster(tmp_path, hosts={3: "10.231.7.13"}, netns={3: "docket-part-x-3"})
    node = cluster.nodes[3]
    assert (node.host, node.netns) == ("10.231.7.13", "docket-part-x-3")
    assert (cluster.nodes[1].host, cluster.nodes[1].netns) == (HOST, None)
    assert node.bootstrap_servers == f"10.231.7.13:{node.port}"
    assert f"3@10.231.7.13:{node.controller_port}" in str(node.quorum_voters)
    assert f"1@{HOST}:{cluster.nodes[1].controller_port}" in str(node.quorum_voters)
    node._write_properties()
    properties = dict(line.split("=", 1) for line in node.properties_file.read_text().splitlines())
    assert properties["listeners"] == (
        f"CLIENT://10.231.7.13:{node.port},MTLS://10.231.7.13:{node.mtls_port},"
        f"CONTROLLER://10.231.7.13:{node.controller_port}"
    )
    assert properties["advertised.listeners"] == properties["listeners"]


def test_the_brokers_certificate_names_the_nodes_addresses(tmp_path: Path) -> None:
    cluster = KafkaCluster(tmp_path, hosts={1: "10.231.7.11", 2: "10.231.7.12"})
    pem = cluster.security.tls.keystore_file.read_bytes()
    certificate = x509.load_pem_x509_certificate(pem[pem.index(b"-----BEGIN CERTIFICATE") :])
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address(a) for a in ("127.0.0.1", "10.231.7.11", "10.231.7.12")
    }
