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

Third-party errors (pypdfium2, pypdf, OS errors) are wrapped at exactly one boundary, in
``core/documents.py`` and ``core/pdf.py``, with ``raise … from exc``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConfigError",
    "CorruptPdf",
    "DocumentError",
    "EmptyDocument",
    "EmptyFolder",
    "EncryptedPdf",
    "ExtractorError",
    "FileTooLarge",
    "LoadTimedOut",
    "NoTextLayer",
    "PathNotFound",
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
