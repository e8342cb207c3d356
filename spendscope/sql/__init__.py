"""The SQL the warehouse runs, as .sql files loaded by name (``load("checks/null_currency")``)."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load(name: str) -> str:
    """Text of ``spendscope/sql/<name>.sql``."""
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def names(folder: str) -> list[str]:
    """Sorted names (``folder/stem``) of the .sql files in a folder of this package."""
    base = resources.files(__package__).joinpath(folder)
    return sorted(f"{folder}/{p.name[:-4]}" for p in base.iterdir() if p.name.endswith(".sql"))


def reference_path(name: str) -> str:
    """Filesystem path of a reference data file in ``spendscope/sql/reference`` (read by DuckDB)."""
    return str(resources.files(__package__).joinpath("reference", name))
