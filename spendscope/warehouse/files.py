"""Identity of input files for the ledger: path, size, mtime and SHA-256.

Hashing a multi-GB delivery costs seconds, so a file whose path, size and mtime match a file the
ledger already recorded reuses that checksum (the usual make/rsync trade-off).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    size: int
    mtime_ns: int
    sha256: str

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def known_checksums(conn: duckdb.DuckDBPyConnection) -> dict[tuple[str, int, int], str]:
    """(path, size, mtime_ns) → sha256 for every file the ledger has recorded."""
    rows = conn.execute(
        "SELECT DISTINCT json_extract_string(f, 'path'), json_extract_string(f, 'size')::BIGINT, "
        "json_extract_string(f, 'mtime_ns')::BIGINT, json_extract_string(f, 'sha256') "
        "FROM (SELECT unnest(files::JSON[]) AS f FROM ingests WHERE files IS NOT NULL)"
    ).fetchall()
    return {(r[0], int(r[1]), int(r[2])): r[3] for r in rows}


def describe_files(paths: list[Path], known: dict[tuple[str, int, int], str]) -> list[SourceFile]:
    out = []
    for p in paths:
        st = p.stat()
        key = (str(p), st.st_size, st.st_mtime_ns)
        out.append(SourceFile(str(p), st.st_size, st.st_mtime_ns, known.get(key) or _sha256(p)))
    return out


def fileset_sha256(files: list[SourceFile]) -> str:
    """One checksum for a set of files: their contents, independent of names and order."""
    return hashlib.sha256(json.dumps(sorted(f.sha256 for f in files)).encode()).hexdigest()
