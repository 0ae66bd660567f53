"""A loopback provider for the real plugins, and the plugins themselves: any path
upgrades to a websocket after a known delay, or is refused; a POST answers with the
websocket URL to use (plugins such as gladia first ask a REST endpoint for their
session URL).  A server can also listen with TLS on a second port, under a
certificate made for 127.0.0.1 that only its own ``client_ssl`` trusts."""

from __future__ import annotations

import asyncio
import datetime
import importlib
import ipaddress
import ssl
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web


def plugin_module(name: str) -> Any:
    """The plugin module ``name``, or a skip where it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        pytest.skip(f"{name} is not installed here: {error}")


def plugin_class(module: Any, name: str) -> Any:
    """``module``'s class ``name``, or a skip naming the release that has none yet."""
    cls = getattr(module, name, None)
    if cls is None:  # a site newer than this release of its plugin
        version = getattr(module, "__version__", "installed here")
        pytest.skip(f"{module.__name__} {version} has no {name} yet")
    return cls


class ProviderServer:
    """Accepts a websocket upgrade on any path after ``delay`` seconds, or refuses
    every one with ``refuse`` (an HTTP status) when it is set.  A POST to any path
    answers after ``post_delay`` with a session pointing back here (never refused:
    ``refuse`` is for the handshake, the connection the package times)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.post_delay = 0.0
        self.refuse: int | None = None
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.handshakes = 0
        self.posts = 0
        self.first_reply: str | None = None
        """Sent back on a websocket's first client message (a session's setup reply)."""
        self.tls_port = 0
        self.client_ssl: ssl.SSLContext | None = None
        self._tls_sessions: list[aiohttp.ClientSession] = []

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._upgrade)
        app.router.add_post("/{tail:.*}", self._session_url)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def serve_tls(self) -> None:
        """Listen with TLS too, for an SDK that connects only with ``wss://``."""
        assert self.runner is not None, "start() first"
        server_ssl, self.client_ssl = tls_contexts()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=server_ssl)
        await site.start()
        self.tls_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def tls_session(self) -> aiohttp.ClientSession:
        """An HTTP session that trusts this server's certificate, closed by ``stop()``."""
        assert self.client_ssl is not None, "serve_tls() first"
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.client_ssl))
        self._tls_sessions.append(session)
        return session

    def url(self, scheme: str = "http", path: str = "") -> str:
        port = self.tls_port if scheme in ("https", "wss") else self.port
        return f"{scheme}://127.0.0.1:{port}{path}"

    async def _upgrade(self, request: web.Request) -> web.StreamResponse:
        if self.refuse is not None:
            return web.Response(status=self.refuse)
        await asyncio.sleep(self.delay)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.handshakes += 1
        first_reply = self.first_reply
        async for message in ws:
            if message.type == aiohttp.WSMsgType.ERROR:
                break
            if first_reply is not None:
                await ws.send_str(first_reply)
                first_reply = None
        return ws

    async def _session_url(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.post_delay)
        self.posts += 1
        # gladia reads ``url`` and ``id``, ultravox ``joinUrl``
        url = self.url("ws", "/session")
        return web.json_response({"id": "s1", "url": url, "joinUrl": url, "token": "t"})

    async def stop(self) -> None:
        for session in self._tls_sessions:
            await session.close()
        if self.runner is not None:
            await self.runner.cleanup()

    async def __aenter__(self) -> ProviderServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh self-signed certificate for 127.0.0.1, and a
    client context that trusts that certificate alone."""
    from cryptography import x509  # google-auth's dependency, in the providers env
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as folder:  # load_cert_chain reads files only
        (Path(folder) / "cert.pem").write_bytes(cert_pem)
        (Path(folder) / "key.pem").write_bytes(key_pem)
        server.load_cert_chain(Path(folder) / "cert.pem", Path(folder) / "key.pem")
    client = ssl.create_default_context(cadata=cert_pem.decode("ascii"))
    return server, client
