"""What the cloud collectors share about files in a bucket or container: an object's identity
(key, size, ETag, mtime), the small ``Store`` protocol each provider implements (S3, Blob, …), and
the local-directory store used when a user already downloaded a delivery."""

from __future__ import annotations

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
