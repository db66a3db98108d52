"""Proxies and CA settings from the environment, honoured as the SDK's own client does.

The transport under the SDK is ours (aiohttp, ``core/llm/transport.py``); a user behind a
corporate proxy or with a private CA sets ``HTTPS_PROXY``, ``NO_PROXY`` or ``SSL_CERT_FILE``
and expects what every openai-SDK program does with them. Each case here runs once with our
transport and once with the SDK's default client (httpx2) and must give the same result:
which requests went through the proxy, and whether the TLS certificate was trusted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

import pytest
from enginekit import FIELDS, items
from loopback import LoopbackServer
from proxykit import LoopbackProxy, TlsFront, tls_files

from extractor_tui.core.llm.openai_client import OpenAIClient
from extractor_tui.core.prompts import make_request
from extractor_tui.errors import ProviderError

Transport = Literal["aiohttp", "httpx2"]
TRANSPORTS: tuple[Transport, ...] = ("aiohttp", "httpx2")
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
               "https_proxy", "all_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


@asynccontextmanager
async def proxy() -> AsyncIterator[LoopbackProxy]:
    running = await LoopbackProxy().start()
    try:
        yield running
    finally:
        await running.close()


async def ask(base_url: str, transport: Transport) -> str:
    """One extraction request; "ok", or "failed: " and the error."""
    item = items(1)[0]
    client = OpenAIClient(base_url=base_url, api_key="k", timeout=10.0, transport=transport)
    try:
        await client.complete(make_request(fields=FIELDS, chunk_text=item.text, model="m",
                                           key=item.key), 10.0)
        return "ok"
    except ProviderError as exc:
        return f"failed: {exc.message}"
    finally:
        await client.aclose()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_http_proxy_carries_the_requests(transport: Transport,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    async with LoopbackServer() as server, proxy() as relay:
        monkeypatch.setenv("HTTP_PROXY", relay.url)
        assert await ask(server.base_url, transport) == "ok"
        assert relay.targets == [f"POST {server.base_url}/chat/completions"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_all_proxy_carries_the_requests(transport: Transport,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    async with LoopbackServer() as server, proxy() as relay:
        monkeypatch.setenv("ALL_PROXY", relay.url)
        assert await ask(server.base_url, transport) == "ok"
    assert len(relay.targets) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "*", "localhost,127.0.0.1"])
async def test_no_proxy_goes_direct(transport: Transport, no_proxy: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    async with LoopbackServer() as server, proxy() as relay:
        monkeypatch.setenv("HTTP_PROXY", relay.url)
        monkeypatch.setenv("NO_PROXY", no_proxy)
        assert await ask(server.base_url, transport) == "ok"
    assert relay.targets == []


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_https_goes_through_the_proxy_and_trusts_ssl_cert_file(
        transport: Transport, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cert, key = tls_files(tmp_path)
    async with LoopbackServer() as server, proxy() as relay:
        front = await TlsFront(cert, key, server.address[1]).start()
        try:
            monkeypatch.setenv("HTTPS_PROXY", relay.url)
            monkeypatch.setenv("SSL_CERT_FILE", str(cert))
            assert await ask(front.base_url, transport) == "ok"
            assert relay.targets == [f"CONNECT 127.0.0.1:{front.port}"]
        finally:
            await front.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_untrusted_certificate_is_refused_and_trusted_by_ssl_cert_file(
        transport: Transport, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cert, key = tls_files(tmp_path)
    async with LoopbackServer() as server:
        front = await TlsFront(cert, key, server.address[1]).start()
        try:
            refused = await ask(front.base_url, transport)
            assert refused.startswith("failed: ") and "CERTIFICATE_VERIFY_FAILED" in refused
            monkeypatch.setenv("SSL_CERT_FILE", str(cert))
            assert await ask(front.base_url, transport) == "ok"
        finally:
            await front.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_socks_proxy_is_used_through_the_sdks_own_transport(
        transport: Transport, monkeypatch: pytest.MonkeyPatch) -> None:
    """aiohttp cannot speak SOCKS: the SDK's transport (with socksio) is kept instead, and a
    proxy that is not there is one clear failure, never an ImportError or a direct call."""
    from extractor_tui.core.llm.transport import uses_aiohttp

    async with LoopbackServer() as server:
        monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:9")  # nothing listens there
        assert not uses_aiohttp()
        outcome = await ask(server.base_url, transport)
        assert outcome.startswith("failed: ") and server.requests_total == 0
