"""Study documents, stored by SHA-256 behind a small interface so an S3 store can replace disk."""

import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from anyio import to_thread

CHUNK = 64 * 1024


@dataclass(frozen=True)
class StoredDocument:
    sha256: str
    size: int


class DocumentStorage(Protocol):
    async def save(self, chunks: AsyncIterable[bytes]) -> StoredDocument:
        """Store the stream under its hash; a failed or cut stream leaves nothing behind."""
        ...

    def read(self, sha256: str) -> AsyncIterator[bytes]: ...


class LocalStorage:
    """Files at ``root/ab/cd/<sha256>``, written to a temporary file and renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def save(self, chunks: AsyncIterable[bytes]) -> StoredDocument:
        incoming = self.root / "incoming"
        await to_thread.run_sync(lambda: incoming.mkdir(parents=True, exist_ok=True))
        # The temporary file lives under the root so the final rename stays on one filesystem,
        # which is what makes it atomic.
        handle, name = tempfile.mkstemp(dir=incoming)
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(handle, "wb") as file:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    await to_thread.run_sync(file.write, chunk)
                await to_thread.run_sync(file.flush)
                await to_thread.run_sync(os.fsync, file.fileno())
            target = self._path(digest.hexdigest())
            await to_thread.run_sync(lambda: target.parent.mkdir(parents=True, exist_ok=True))
            await to_thread.run_sync(os.replace, name, target)
        except BaseException:
            await to_thread.run_sync(lambda: Path(name).unlink(missing_ok=True))
            raise
        return StoredDocument(digest.hexdigest(), size)

    async def read(self, sha256: str) -> AsyncIterator[bytes]:
        with await to_thread.run_sync(self._path(sha256).open, "rb") as file:
            while chunk := await to_thread.run_sync(file.read, CHUNK):
                yield chunk
