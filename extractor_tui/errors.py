"""One error tree for the whole application.

Every error the user can meet is an ``ExtractorError``; anything else reaching the top level
is a bug. Each class carries the context needed to act on it (here: the path), and its
``reason`` is one line a user can act on, without a traceback::

    ExtractorError
     ├── ConfigError                 bad settings, flags or config file
     └── DocumentError               one input could not be loaded (carries .path)
          ├── PathNotFound           the path does not exist
          ├── EmptyFolder            a folder holds no files at all
          ├── UnsupportedType        not .pdf, .txt or .md
          ├── FileTooLarge           over the configured size cap
          ├── UnreadableFile         permissions, I/O error, binary content
          ├── EmptyDocument          zero bytes, or only whitespace
          ├── CorruptPdf             damaged or truncated PDF
          ├── EncryptedPdf           a user password is needed
          ├── NoTextLayer            scanned pages; OCR is not supported
          └── LoadTimedOut           the PDF worker exceeded its time limit
     ├── FieldSpecError              a schema file, --field or preset that cannot be used
     ├── SessionWriteError           the session file cannot be written (disk full, read-only)
     ├── SessionBusy                 another extractor writes the session (carries .holder)
     ├── OutputError                 the results could not all be written (a full disk, a
     │                               reader that closed stdout early)
     └── ProviderError               one call to an LLM endpoint failed (carries .kind,
          │                          .status, .request_id, .raw); .kind picks the budget
          ├── RateLimited            429 rate_limit_exceeded: back-pressure (.retry_after)
          ├── TransientError         5xx, timeout, dropped connection: back off and retry
          ├── InvalidOutput          not JSON, wrong schema, empty: re-ask with the error
          ├── TruncatedOutput        finish_reason "length": split the chunk in two
          └── FatalProviderError     401/403, unknown model, no quota, context too long:
                                     the circuit opens and dispatch stops

Third-party errors (pypdfium2, pypdf, OS errors) are wrapped at exactly one boundary, in
``core/documents.py`` and ``core/pdf.py``; every ``openai.*Error`` is wrapped in
``core/llm/openai_client.py``; SQLite's disk-full, read-only and I/O errors in
``core/_session_schema.py``. Always with ``raise … from exc``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

__all__ = [
    "ConfigError",
    "CorruptPdf",
    "DocumentError",
    "EmptyDocument",
    "EmptyFolder",
    "EncryptedPdf",
    "ErrorKind",
    "ExtractorError",
    "FatalProviderError",
    "FieldSpecError",
    "FileTooLarge",
    "InvalidOutput",
    "LoadTimedOut",
    "NoTextLayer",
    "OutputError",
    "PathNotFound",
    "ProviderError",
    "RateLimited",
    "SessionBusy",
    "SessionWriteError",
    "TransientError",
    "TruncatedOutput",
    "UnreadableFile",
    "UnsupportedType",
]


class ExtractorError(Exception):
    """Base of every error this application reports to a user."""


class ConfigError(ExtractorError):
    """Settings, flags or a config file that cannot be used."""


class DocumentError(ExtractorError):
    """An input that could not be loaded. ``str(err)`` is ``"<path>: <reason>"``."""

    default_reason = "could not be loaded"

    def __init__(self, path: Path | str, reason: str | None = None) -> None:
        self.path = Path(path)
        self.reason = reason or self.default_reason
        super().__init__(f"{self.path}: {self.reason}")

    def __reduce__(self) -> tuple[type[DocumentError], tuple[Path, str]]:
        # Keep (path, reason) when errors cross a process boundary.
        return (type(self), (self.path, self.reason))


class PathNotFound(DocumentError):
    default_reason = "no such file or folder"


class EmptyFolder(DocumentError):
    default_reason = "folder holds no files"


class UnsupportedType(DocumentError):
    default_reason = "unsupported file type (use .pdf, .txt or .md)"


class FileTooLarge(DocumentError):
    default_reason = "file is larger than the size cap"


class UnreadableFile(DocumentError):
    default_reason = "file cannot be read"

    @classmethod
    def from_os_error(cls, path: Path | str, exc: OSError) -> UnreadableFile:
        """The one wording for permission and I/O failures: ``cannot read: <strerror>``."""
        return cls(path, f"cannot read: {exc.strerror or exc}")


class EmptyDocument(DocumentError):
    default_reason = "empty file"


class CorruptPdf(DocumentError):
    default_reason = "corrupt or truncated PDF"


class EncryptedPdf(DocumentError):
    default_reason = "encrypted: a password is needed"


class NoTextLayer(DocumentError):
    default_reason = "no extractable text (scanned? OCR is not supported)"


class LoadTimedOut(DocumentError):
    default_reason = "took too long to read"


class FieldSpecError(ExtractorError):
    """A JSON Schema file, ``--field`` value or preset name that cannot be used."""


class SessionWriteError(ExtractorError):
    """The session file cannot be written: the disk is full, it is read-only, an I/O error.
    What was committed before stays in the file."""


class SessionBusy(ExtractorError):
    """Another extractor holds the session's lock: one session, one writer. ``holder``
    says who ("extractor run (pid 4242, since 2026-12-06 18:10:03)")."""

    def __init__(self, session: Path | str, holder: str) -> None:
        self.session = Path(session)
        self.holder = holder
        super().__init__(f"{self.session} is in use by {holder}; wait for it to finish, or "
                         "use another --session")


class OutputError(ExtractorError):
    """The results could not all be written where ``--output`` says, after the run: a full
    disk, or a reader that closed stdout before the end (``| head``). What the session holds
    stays in it."""


class ErrorKind(StrEnum):
    """The class of a failed call; each class has its own retry budget in the engine."""

    BACK_PRESSURE = "back-pressure"
    TRANSIENT = "transient"
    INVALID_OUTPUT = "invalid-output"
    TRUNCATED = "truncated"
    FATAL = "fatal"
    CANCELLED = "cancelled"


class ProviderError(ExtractorError):
    """One call to an LLM endpoint failed.

    Carries what the tracker and the failed-chunks view show: the HTTP status (None when no
    answer came back), the provider's request id, and the raw model output when there was one.
    ``fingerprint`` is set when the same failure would come back unchanged (a refused
    connection, an unknown host, a TLS failure, a 5xx with its message): two alike before
    anything succeeded end the run at once, with that reason.
    """

    kind: ErrorKind = ErrorKind.TRANSIENT

    def __init__(self, message: str, *, status: int | None = None,
                 request_id: str | None = None, raw: str | None = None,
                 fingerprint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id
        self.raw = raw
        self.fingerprint = fingerprint


class RateLimited(ProviderError):
    """429 rate_limit_exceeded. ``retry_after`` is seconds from the provider's headers, if any."""

    kind = ErrorKind.BACK_PRESSURE

    def __init__(self, message: str, *, retry_after: float | None = None,
                 status: int | None = 429, request_id: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message, status=status, request_id=request_id)
        self.retry_after = retry_after
        self.headers: Mapping[str, str] = dict(headers or {})


class TransientError(ProviderError):
    """5xx, a timeout or a dropped connection: worth retrying after a backoff."""

    kind = ErrorKind.TRANSIENT


class InvalidOutput(ProviderError):
    """The model answered, but not with JSON matching the schema (or with nothing)."""

    kind = ErrorKind.INVALID_OUTPUT


class TruncatedOutput(ProviderError):
    """The answer was cut at the token limit (``finish_reason == "length"``)."""

    kind = ErrorKind.TRUNCATED


class FatalProviderError(ProviderError):
    """No retry can help (bad key, no quota, unknown model, context too long).

    ``endpoint_own`` says whether it is the endpoint's own (its key, its quota, the models
    it serves), so another endpoint may do the work, or the request's (context too long),
    which no endpoint can help with.
    """

    kind = ErrorKind.FATAL

    def __init__(self, message: str, *, status: int | None = None,
                 request_id: str | None = None, raw: str | None = None,
                 endpoint_own: bool = True) -> None:
        super().__init__(message, status=status, request_id=request_id, raw=raw)
        self.endpoint_own = endpoint_own
