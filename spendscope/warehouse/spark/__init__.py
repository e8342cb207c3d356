"""The warehouse SQL on Apache Spark (``engine = "spark"``): for bills that outgrow one machine.

Native billing files are normalized to FOCUS Parquet where they live (``normalize``), rolled up per UTC
day (``rollup``), and only that rollup is pulled into the local DuckDB through the normal load path, so
analysis and exporters run unchanged. The SQL is the DuckDB collectors', translated by sqlglot
(``dialect``), with hand-written ``.spark.sql`` twins where a translation would change the meaning.
Importing this package does not import pyspark; ``session.build_session`` does.
"""

from spendscope.warehouse.spark.settings import SparkSettings

__all__ = ["SparkSettings"]
