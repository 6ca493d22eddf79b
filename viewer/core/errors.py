"""Exception types a user can act on.

Every failure that reaches a user names the file (or peer) and says why, so the message
alone is enough to decide what to do (re-copy a truncated file, install a decoder, ...).
"""

from __future__ import annotations

from pathlib import Path


class LightboxError(Exception):
    """Base of all errors Lightbox raises on purpose."""


class DicomReadError(LightboxError):
    """A file is not DICOM, or its header cannot be parsed."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: cannot read DICOM: {reason}")


class DecodeError(LightboxError):
    """Pixel data could not be decoded into a correct image."""

    def __init__(self, path: str | Path, transfer_syntax: str, reason: str) -> None:
        self.path = str(path)
        self.transfer_syntax = str(transfer_syntax)
        self.reason = reason
        super().__init__(f"{self.path}: cannot decode pixel data ({self.transfer_syntax}): {reason}")


class UnsupportedTransferSyntax(DecodeError):
    """No installed decoder handles the file's transfer syntax."""


class GeometryError(LightboxError):
    """Files cannot be assembled into a geometrically valid image stack."""


class StoreError(LightboxError):
    """The local cache refused or failed an operation."""


class NetError(LightboxError):
    """A DICOM network operation failed; the message says how (refused, timeout, ...)."""


class Cancelled(LightboxError):
    """The user cancelled the operation; not a failure."""
