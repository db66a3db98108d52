"""A loopback HTTP proxy and a self-signed TLS loopback server, for the transport's tests.

Why: the HTTP transport under the SDK must honour ``HTTP(S)_PROXY``, ``NO_PROXY`` and
``SSL_CERT_FILE`` exactly as the SDK's own client does. That can only be shown by sending
real requests through a real proxy and to a real TLS server, both on 127.0.0.1:

* ``LoopbackProxy`` is a forward proxy: absolute-form requests (``POST http://host/...``)
  are relayed, ``CONNECT host:port`` opens a tunnel (how HTTPS goes through a proxy). It
  records the target of every request it relayed, so a test can see which went through it.
* ``tls_files`` makes a self-signed certificate for ``127.0.0.1`` (with ``cryptography``,
  which pypdf[crypto] already brings), and ``TlsFront`` serves TLS on 127.0.0.1 in front of
  a plain loopback server, relaying bytes both ways.

Everything is bounded: each connection's reads time out, and ``close()`` cancels every task.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
from pathlib import Path

__all__ = ["LoopbackProxy", "TlsFront", "tls_files"]

HOST = "127.0.0.1"
_TIMEOUT_S = 30.0
_MAX_HEAD = 64 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await asyncio.wait_for(reader.read(65536), _TIMEOUT_S):
            writer.write(data)
            await writer.drain()
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()


class _Server:
    """Start/close and task bookkeeping shared by the proxy and the TLS front."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


class LoopbackProxy(_Server):
    """A forward HTTP proxy on 127.0.0.1; ``targets`` lists what it relayed, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def start(self) -> LoopbackProxy:
        self._server = await asyncio.start_server(self._accept, HOST, 0, limit=_MAX_HEAD)
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _TIMEOUT_S)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        self.targets.append(f"{method} {target}")
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
        else:  # absolute form: http://host:port/path; one request per connection
            rest = target.split("://", 1)[1]
            hostport, _, path = rest.partition("/")
            host, _, port = hostport.rpartition(":")
            upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
            kept = [line for line in lines[1:] if line and not line.lower().startswith(
                ("proxy-", "connection:"))]
            upstream_writer.write("\r\n".join([f"{method} /{path} {version}", *kept,
                                               "Connection: close", "", ""]).encode("latin-1"))
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))


class TlsFront(_Server):
    """TLS on 127.0.0.1 (certificate from ``tls_files``), relaying to a plain server."""

    def __init__(self, cert: Path, key: Path, upstream_port: int) -> None:
        super().__init__()
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(cert, key)
        self._upstream_port = upstream_port

    @property
    def base_url(self) -> str:
        return f"https://{HOST}:{self.port}/v1"

    async def start(self) -> TlsFront:
        self._server = await asyncio.start_server(self._accept, HOST, 0, ssl=self._context)
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(HOST,
                                                                         self._upstream_port)
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))


def tls_files(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files in ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "extractor loopback")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "loopback-cert.pem", folder / "loopback-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
