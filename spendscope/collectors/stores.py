"""What the cloud collectors share about files in a bucket or container: an object's identity
(key, size, ETag, mtime), the small ``Store`` protocol each provider implements (S3, Blob, …), and
the local-directory store used when a user already downloaded a delivery."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    etag: str
    """Content identity: the provider's ETag (or size-mtime for local files)."""
    mtime_ns: int


class Store(Protocol):
    def uri(self, key: str) -> str: ...
    def list(self, prefix: str) -> list[StoredObject]: ...
    def read_text(self, key: str) -> str: ...
    def download(self, key: str, dest: Path) -> None: ...


class LocalStore:
    """A local directory laid out like the bucket or container (after `aws s3 sync`, `azcopy`, …)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def uri(self, key: str) -> str:
        return str(self.root / key) if key else str(self.root)

    def list(self, prefix: str) -> list[StoredObject]:
        base = self.root / prefix if prefix else self.root
        files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
        out = []
        for p in sorted(files):
            st = p.stat()
            key = p.relative_to(self.root).as_posix()
            out.append(StoredObject(key, st.st_size, f"{st.st_size}-{st.st_mtime_ns}", st.st_mtime_ns))
        return out

    def read_text(self, key: str) -> str:
        return (self.root / key).read_text(encoding="utf-8-sig")

    def download(self, key: str, dest: Path) -> None:
        raise AssertionError("local files are read in place")


class Staging:
    """Where a load reads a delivery's files from: in place for a ``LocalStore``, otherwise streamed
    into a temporary directory that lives until ``close()`` (after the warehouse has read them)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def path(self, key: str) -> Path:
        """A local path for ``key`` in the temporary directory (created on first use)."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=self.prefix)
        return Path(self._tmp.name) / key.replace("/", "__")

    def fetch(self, store: Store, key: str) -> str:
        """The path DuckDB reads ``key`` from, downloading it first unless the store is local."""
        if isinstance(store, LocalStore):
            return store.uri(key)
        target = self.path(key)
        store.download(key, target)
        return str(target)

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
