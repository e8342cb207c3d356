"""A SparkSession from ``[spark]`` settings: local or cluster master, or a Spark Connect endpoint.

The session is set up so that the translated DuckDB SQL means what it means in DuckDB: UTC session time
zone (DuckDB's warehouse connection runs with ``TimeZone = 'UTC'``), ANSI mode (a bad cast or an overflow
is an error, as in DuckDB, not a silent NULL), and ``decimalOperations.allowPrecisionLoss = false`` so that
DECIMAL(38, 12) + DECIMAL(38, 12) stays DECIMAL(38, 12) and a product keeps DuckDB's scale (s1 + s2)
instead of being rounded to 6 decimals. Parquet timestamps are written as TIMESTAMP_MICROS adjusted to UTC,
which DuckDB reads as TIMESTAMPTZ.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Final

from spendscope.errors import ConfigError, WarehouseError
from spendscope.warehouse.spark.settings import SparkSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

BASE_CONF: Final[dict[str, str]] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
"""Conf every session gets (user ``conf`` may add to it, and overrides it at its own risk)."""


def build_session(settings: SparkSettings, *, app_name: str = "spendscope") -> SparkSession:
    """Get or create the SparkSession the settings describe (Spark logs only fatal errors; a failed query raises).

    A local master needs ``java`` (Java 17+) on PATH; a Spark Connect URL needs only the network.
    """
    from pyspark.sql import SparkSession

    conf = {**BASE_CONF, **settings.conf}
    builder = SparkSession.builder.appName(app_name)
    if settings.connect_url:
        if not settings.connect_url.startswith("sc://"):
            raise ConfigError("connect_url must start with sc://", source="[spark] connect_url")
        builder = builder.remote(settings.connect_url)
        conf = {k: v for k, v in conf.items() if not k.startswith("spark.ui.")}  # fixed at the server
    else:
        builder = builder.master(settings.master)
        if settings.master.startswith("local"):  # a local driver listens on loopback only
            conf = {"spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1", **conf}
        os.environ.setdefault("PYSPARK_PYTHON", _python())
    for key, value in conf.items():
        builder = builder.config(key, value)
    log.info("spark session master=%s connect=%s", settings.master, bool(settings.connect_url))
    from spendscope.warehouse.spark.normalize import first_line, spark_errors

    where = "[spark] connect_url" if settings.connect_url else f"[spark] master {settings.master}"
    failures: tuple[type[Exception], ...] = (OSError, *spark_errors())
    try:
        session = builder.getOrCreate()
    except failures as exc:  # no java, a refused connection, a bad master URL
        raise WarehouseError(f"cannot start a Spark session: {first_line(exc)}", source=where) from exc
    if not settings.connect_url:
        session.sparkContext.setLogLevel("FATAL")  # failures surface as exceptions, one line each
    return session


def _python() -> str:
    import sys

    return sys.executable
