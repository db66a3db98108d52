"""The HTTP transport under the openai SDK: aiohttp, with every failure mapped to httpx2's.

Why this exists:

* The SDK runs on httpx2 and documents aiohttp as the transport "for improved concurrency
  performance" (``openai[aiohttp]``). Measured here with 20 requests in flight, the engine's
  CPU per request is 0.63-0.75x what it is on httpx2 (bench/dispatch.py prints both), and that
  CPU is what delays each wave of sends when 20 answers arrive together.
* We do not use the SDK's ``DefaultAioHttpClient`` as it stands, because of two faults found
  against the loopback server (tests/test_transport.py keeps them covered):

  - a malformed status line, header or chunk size escapes as ``aiohttp.ClientResponseError``,
    which is not an ``openai`` error, so no caller that catches ``openai.OpenAIError`` sees it;
  - a dropped connection and a refused connection both become ``ConnectTimeout``, so the
    tracker would say "no answer within 60 s" for a server that is down.

  This transport is the same shape (an ``httpx2.AsyncBaseTransport``, so auth, base URL,
  headers, timeouts and error classes stay the SDK's) with a complete mapping: every aiohttp
  failure becomes the httpx2 exception httpx2's own transport raises for that case.
* The answer is read whole here, inside the mapping: the engine never streams, and a body cut
  short then fails as a transport error, not later as a bare aiohttp exception.
* Two bounds a hostile server cannot stretch: the request's read timeout is also aiohttp's
  *total* timeout, so a body dripped one byte at a time ends when the time is up (a
  per-read timeout never would), and a body over ``max_body_bytes`` is refused as it
  arrives (``AnswerTooLarge``), so a 120 MB answer costs 10 MB of memory, not 480. A gzip
  or deflate body is inflated here, under the same cap, so a small bomb cannot expand into
  gigabytes later (httpx2 would inflate it without a bound).
* One ``ClientSession`` per event loop, made on first use (aiohttp binds it to the loop).
* The TLS context is httpx2's (the same CA bundle and ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``
  handling as the SDK's default transport), made once per process and CA setting: loading
  the CA bundle costs about 45 ms, which every new client (each run, each settings change in
  the app) would otherwise pay again.
* Proxies are chosen as the SDK's own client chooses them: httpx2's reading of
  ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` (curl's rules) and httpx2's
  pattern order decide, per request, which proxy (if any) aiohttp goes through; HTTPS goes
  through it with ``CONNECT``. aiohttp cannot speak SOCKS, so when the environment names a
  SOCKS proxy ``uses_aiohttp()`` is false and the client keeps the SDK's default transport
  (tests/test_proxy_env.py runs every case on both and expects the same).
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import httpx2
from httpx2._utils import URLPattern, get_environment_proxies  # the SDK's own rules, exactly

__all__ = ["AiohttpTransport", "AnswerTooLarge", "aiohttp_http_client", "environment_proxies",
           "uses_aiohttp", "warm"]

_MAX_CONNECTIONS = 200  # above the 100 the concurrency setting allows
_PIECE = 256 * 1024


class AnswerTooLarge(httpx2.DecodingError):
    """The response body is over the cap; the SDK wraps it (an ``httpx2.RequestError``) in
    ``APIConnectionError``, and ``openai_client.map_error`` turns it into invalid output."""

    def __init__(self, size: int, cap: int, *, request: httpx2.Request) -> None:
        super().__init__(f"the answer is over {size / 1048576:.1f} MB, more than the "
                         f"{cap / 1048576:.1f} MB cap on an answer's size", request=request)
        self.size, self.cap = size, cap


async def _read_capped(response: aiohttp.ClientResponse, cap: int,
                       request: httpx2.Request) -> bytes:
    """The body, refused as soon as it (or its announced length) passes ``cap`` bytes."""
    if response.content_length is not None and response.content_length > cap:
        raise AnswerTooLarge(response.content_length, cap, request=request)
    pieces: list[bytes] = []
    size = 0
    async for piece in response.content.iter_chunked(_PIECE):
        size += len(piece)
        if size > cap:
            raise AnswerTooLarge(size, cap, request=request)
        pieces.append(piece)
    return b"".join(pieces)


def _ssl_context(verify: bool) -> ssl.SSLContext:
    """httpx2's TLS context, loaded once per process and CA setting, and shared."""
    return _ssl_context_for(verify, os.environ.get("SSL_CERT_FILE"),
                            os.environ.get("SSL_CERT_DIR"))


def warm() -> None:
    """Build the default TLS context now: reading the CA bundle takes 50-100 ms, which the
    CLI spends before its event loop starts (``job_setup.prepare_sdk``)."""
    _ssl_context(True)


@functools.cache
def _ssl_context_for(verify: bool, cert_file: str | None, cert_dir: str | None
                     ) -> ssl.SSLContext:
    return httpx2.create_ssl_context(verify=verify)  # reads SSL_CERT_FILE / SSL_CERT_DIR


Proxies = tuple[tuple[URLPattern, str | None], ...]


def environment_proxies() -> Proxies:
    """The environment's proxies as httpx2 reads them, most specific pattern first (the
    order ``httpx2.AsyncClient`` tries its mounts in); None = go direct."""
    found = get_environment_proxies()
    return tuple(sorted(((URLPattern(pattern), proxy) for pattern, proxy in found.items()),
                        key=lambda entry: entry[0]))


def uses_aiohttp(proxies: Proxies | None = None) -> bool:
    """False when the environment names a proxy aiohttp cannot use (SOCKS): then the SDK's
    default transport, which can, is kept."""
    entries = environment_proxies() if proxies is None else proxies
    return all(proxy is None or proxy.lower().startswith(("http://", "https://"))
               for _, proxy in entries)


def _proxy_for(url: httpx2.URL, proxies: Proxies) -> str | None:
    for pattern, proxy in proxies:
        if pattern.matches(url):
            return proxy
    return None


@contextmanager
def _mapped(request: httpx2.Request) -> Iterator[None]:
    """Re-raise any aiohttp or socket failure as the matching httpx2 exception."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx2.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
    except (aiohttp.SocketTimeoutError, aiohttp.ServerTimeoutError, TimeoutError) as exc:
        raise httpx2.ReadTimeout(str(exc) or "read timed out", request=request) from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx2.ConnectError(str(exc), request=request) from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise httpx2.RemoteProtocolError(
            "server disconnected without sending a complete response", request=request) from exc
    except aiohttp.ClientPayloadError as exc:
        raise httpx2.ReadError(f"response body incomplete: {exc}", request=request) from exc
    except aiohttp.ClientResponseError as exc:  # a response that is not valid HTTP
        raise httpx2.RemoteProtocolError(f"invalid HTTP response: {' '.join(exc.message.split())}",
                                         request=request) from exc
    except aiohttp.InvalidURL as exc:
        raise httpx2.UnsupportedProtocol(f"invalid URL: {exc}", request=request) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise httpx2.NetworkError(f"{type(exc).__name__}: {exc}", request=request) from exc


_INFLATE = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def _inflated(content: bytes, raw_headers: list[tuple[bytes, bytes]], cap: int,
              request: httpx2.Request) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """A gzip or deflate body inflated to at most ``cap`` bytes, and headers that say so;
    any other encoding is left for httpx2, as before."""
    encodings = [value.decode("latin-1").strip().lower() for name, value in raw_headers
                 if name.lower() == b"content-encoding"]
    if len(encodings) != 1 or encodings[0] not in _INFLATE:
        return content, raw_headers
    inflater = zlib.decompressobj(_INFLATE[encodings[0]])
    try:
        body = inflater.decompress(content, cap + 1)
        if not inflater.eof and len(body) <= cap:
            body += inflater.flush()
    except zlib.error as exc:
        raise httpx2.DecodingError(f"the {encodings[0]} body cannot be inflated: {exc}",
                                   request=request) from exc
    if len(body) > cap or inflater.unconsumed_tail:
        raise AnswerTooLarge(len(body), cap, request=request)
    kept = [(name, value) for name, value in raw_headers
            if name.lower() not in (b"content-encoding", b"content-length")]
    return body, [*kept, (b"content-length", str(len(body)).encode())]


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """Sends httpx2 requests over an aiohttp connection pool (HTTP/1.1, keep-alive)."""

    def __init__(self, *, max_connections: int = _MAX_CONNECTIONS,
                 keepalive_s: float = 15.0, verify: bool = True,
                 max_body_bytes: int = 10 * 1024 * 1024,
                 proxies: Proxies | None = None) -> None:
        self._proxies = environment_proxies() if proxies is None else proxies
        self._max_connections = max_connections
        self._max_body_bytes = max_body_bytes
        self._keepalive_s = keepalive_s
        self._ssl = _ssl_context(verify)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _session_for_loop(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl,
                                             keepalive_timeout=self._keepalive_s)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
            self._loop = loop
        return self._session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeouts = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(total=timeouts.get("read"), connect=timeouts.get("pool"),
                                        sock_connect=timeouts.get("connect"),
                                        sock_read=timeouts.get("read"))
        body = await request.aread()
        with _mapped(request):
            session = self._session_for_loop()
            async with session.request(request.method, str(request.url),
                                       headers=request.headers.multi_items(),
                                       data=body or None, allow_redirects=False,
                                       compress=False, timeout=timeout,
                                       proxy=_proxy_for(request.url, self._proxies)
                                       ) as response:
                content = await _read_capped(response, self._max_body_bytes, request)
                raw_headers = list(response.raw_headers)
                status, reason = response.status, response.reason
        content, raw_headers = _inflated(content, raw_headers, self._max_body_bytes, request)
        extensions = {"http_version": b"HTTP/1.1"}
        if reason:
            extensions["reason_phrase"] = reason.encode("latin-1", "replace")
        return httpx2.Response(status, headers=raw_headers,
                               stream=httpx2.ByteStream(content), request=request,
                               extensions=extensions)

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()


def aiohttp_http_client(timeout: float,
                        max_body_bytes: int = 10 * 1024 * 1024) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` for ``AsyncOpenAI(http_client=…)``, with the SDK's defaults."""
    return httpx2.AsyncClient(transport=AiohttpTransport(max_body_bytes=max_body_bytes),
                              timeout=timeout, follow_redirects=True)
