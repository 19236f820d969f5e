"""Request bodies spooled to a temporary file and hashed before anything is stored, so an
upload cut off half-way leaves nothing visible."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass

from modelyard.errors import PayloadTooLargeError


@dataclass(frozen=True)
class Spooled:
    """An upload held in a local temporary file until it is complete."""

    path: str
    size: int
    sha256: str

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


async def spool(
    chunks: AsyncIterator[bytes], *, max_bytes: int, folder: str | None = None
) -> Spooled:
    """Write a request body to a temporary file, hashing it; over `max_bytes` is refused and
    a body cut off half-way raises, and in both cases the file is removed."""
    digest = hashlib.sha256()
    size = 0
    handle = tempfile.NamedTemporaryFile(prefix="upload-", dir=folder, delete=False)  # noqa: SIM115
    try:
        with handle:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLargeError(
                        f"the upload is over the limit of {max_bytes} bytes", field="body"
                    )
                digest.update(chunk)
                handle.write(chunk)
    except BaseException:
        os.unlink(handle.name)
        raise
    return Spooled(handle.name, size, digest.hexdigest())
