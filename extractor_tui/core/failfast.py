"""Fail fast, with the reason: a server that cannot work ends the run in seconds.

Before this, ``--base-url http://127.0.0.1:9/v1`` (nothing listening) took 7 min 32 s to
fail 7 chunks: every chunk spent its retries with backoff, and every breaker probe spent one
more. A refused connection, an unknown host, a failed TLS handshake or a 5xx with the same
message will not change on the next try, so two alike in a row, before the endpoint has
answered anything, end the run with one line: the endpoint and the server's own words.
Once anything has succeeded the same failures are ordinary transient ones (a server that
worked may be restarting), retried with backoff as before.

The gate's slow start (one request at a time until the first answer) keeps the cost of
this to at most two requests.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from extractor_tui.errors import ProviderError

__all__ = ["FailFast", "endpoint_label"]


def endpoint_label(url: str) -> str:
    """``url`` as said to a user: no user info, query or fragment, no trailing slash."""
    parts = urlsplit(url)
    if not parts.scheme:
        return url.rstrip("/")
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


class FailFast:
    """Watches the failures before the endpoint's first answer; says when to stop."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint_label(endpoint)
        self._previous: str | None = None  # the last failure's fingerprint, if it had one

    def stop_reason(self, exc: ProviderError, proven: bool) -> str | None:
        """The line to stop the run with, or None to carry on retrying.

        ``exc`` is a transient failure; ``proven`` says whether the endpoint has answered.
        """
        if proven:
            self._previous = None
            return None
        same = exc.fingerprint is not None and exc.fingerprint == self._previous
        self._previous = exc.fingerprint
        if not same:
            return None
        return f"{self.endpoint}: {exc.message} (twice, and nothing has succeeded)"

    def fatal_reason(self, exc: ProviderError) -> str:
        """A fatal error's line, naming the endpoint it came from."""
        return f"{self.endpoint}: {exc.message}"
