"""``[spark]`` settings: where Spark runs and where the FOCUS Parquet and daily rollups it writes go.

Only read when ``engine = "spark"``; importing this module does not import pyspark.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SparkSettings(BaseModel):
    """A Spark master (``local[2]``, ``spark://host:7077``, ``yarn``) or a Spark Connect endpoint
    (``sc://host:15002``, Databricks' ``sc://…``), the storage location, and extra Spark conf."""

    model_config = ConfigDict(extra="forbid")

    master: str = Field(default="local[2]", description="Spark master URL (ignored when connect_url is set)")
    connect_url: str | None = Field(default=None, description="Spark Connect endpoint, sc://host:port[/;token=…]")
    location: str = Field(
        default="spendscope-spark",
        description="where FOCUS Parquet (focus/) and daily rollups (rollup/) are written: a path or a URL "
        "Spark can write (s3a://, abfss://, gs://, dbfs:/)",
    )
    conf: dict[str, str] = Field(default_factory=dict, description="extra Spark conf (spark.executor.memory, …)")
    keep_resource_ids: bool = Field(
        default=True, description="keep ResourceId/ResourceName in the daily rollup (false: fewer rows pulled)"
    )
