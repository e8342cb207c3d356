"""The SQL the warehouse runs, as .sql files loaded by name (``load("checks/null_currency")``).

A statement that sqlglot cannot translate to Spark SQL has a hand-written twin beside it,
``<name>.spark.sql`` (see ``spendscope.warehouse.spark.dialect``); ``names()`` never lists the twins.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

SPARK_SUFFIX = ".spark.sql"


@cache
def load(name: str) -> str:
    """Text of ``spendscope/sql/<name>.sql``."""
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def names(folder: str) -> list[str]:
    """Sorted names (``folder/stem``) of the .sql files in a folder of this package (not the .spark.sql twins)."""
    base = resources.files(__package__).joinpath(folder)
    return sorted(
        f"{folder}/{p.name[:-4]}"
        for p in base.iterdir()
        if p.name.endswith(".sql") and not p.name.endswith(SPARK_SUFFIX)
    )


def spark_override(name: str) -> str | None:
    """Text of the hand-written ``spendscope/sql/<name>.spark.sql`` twin, or None when there is none."""
    path = resources.files(__package__).joinpath(f"{name}{SPARK_SUFFIX}")
    return path.read_text(encoding="utf-8") if path.is_file() else None


def reference_path(name: str) -> str:
    """Filesystem path of a reference data file in ``spendscope/sql/reference`` (read by DuckDB)."""
    return str(resources.files(__package__).joinpath("reference", name))
