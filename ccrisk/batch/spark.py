"""The Spark engine of `ccrisk score`: the champion's pyfunc as `mlflow.pyfunc.spark_udf` on each
partition, the business rules as a pandas UDF beside it, the output a Parquet folder (part files).

The executors get what they import from the job itself: the pyfunc carries `features/` (its
code_paths), the rules UDF gets `features/` as a zip (addPyFile) and the rules file (addFile).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import mlflow
import pandas as pd

import features
from ccrisk.batch.tables import (
    CLAIM_COLUMNS,
    MESSAGE_ID,
    TEXT,
    Champion,
    check_columns,
    claim_schema,
    column_names,
    input_format,
)  # fmt: skip
from features.claims.rules import RuleBook, cached_rulebook
from features.claims.spec import ClaimSpec

logger = logging.getLogger(__name__)
SPARK_TYPES = {"int64": "bigint", "double": "double", "string": "string"}


def session(master: str):
    """A Spark session (`local[N]` runs on this machine; its UI off, bound to loopback)."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors run this interpreter
    builder = SparkSession.builder.master(master).appName("ccrisk-score")
    builder = builder.config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "8")
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    if master.startswith("local"):
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    tmp = tempfile.mkdtemp(prefix="ccrisk-spark-")  # read by Spark until the job ends
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    code = Path(features.__file__).resolve().parent
    zipped = shutil.make_archive(str(Path(tmp) / "features"), "zip", code.parent, code.name)
    spark.sparkContext.addPyFile(zipped)  # the rules UDF's code on every executor
    return spark


def _read(spark, source: Path, types: dict[str, str]):
    """The input as a DataFrame; CSV cells read as text, then cast by name (not by position)."""
    from pyspark.sql.functions import col

    if input_format(source) == "parquet":
        return spark.read.parquet(str(source))
    frame = spark.read.csv(str(source), header=True, inferSchema=False)
    return frame.select(*[col(c).cast(types[c]).alias(c) if c in types else col(c) for c in frame.columns])


def rules_udf(rules_file: str | None, spec: ClaimSpec):
    """RuleBook.act as a pandas UDF of (claims, the model's bands). It refers to `features` and
    pandas only (it is pickled to the executors, which have `features/` from addPyFile, not
    `ccrisk`); `rules_file` None: a spec without rules."""
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import ArrayType, BooleanType, StringType, StructField, StructType

    columns = StructType([
        StructField("rules_hit", ArrayType(StringType())), StructField("risk_band", StringType()),
        StructField("band_raised_by", StringType()), StructField("manual_review", BooleanType()),
    ])  # fmt: skip

    @pandas_udf(columns)
    def rules_act(claims: pd.DataFrame, bands: pd.Series) -> pd.DataFrame:
        from pyspark import SparkFiles

        book = cached_rulebook(SparkFiles.get(rules_file) if rules_file else None, spec)
        return pd.DataFrame(book.act(claims, bands.tolist()))

    return rules_act


def score_claims(
    spark, source: Path, target: Path, model: Champion, spec: ClaimSpec, rules: RuleBook, reason_count: int,
    capacity: str = "",
) -> int:  # fmt: skip
    """Score every claim of `source` into the Parquet folder `target`; the number of claims.
    `capacity`: the line's band shares as JSON (the model's `capacity` param), "" as trained."""
    from pyspark.sql.functions import col, lit, struct

    check_columns(column_names(source), list(spec.columns), "scoring claims", source)
    types = {c: SPARK_TYPES[str(t)] for c, t in claim_schema(spec).items()}
    frame = _read(spark, source, types)
    predict = mlflow.pyfunc.spark_udf(
        spark, model.uri, result_type="fraud_probability double, risk_band string, top_reasons string",
        env_manager="local",
        params={"reason_count": reason_count, "explain": "all", **({"capacity": capacity} if capacity else {})},  # noqa: E501
    )  # fmt: skip
    if rules.path is not None:
        spark.sparkContext.addFile(str(rules.path))
    claims = struct(*[col(c) for c in spec.columns])
    claim_id = (
        col(spec.identifier).cast("string") if spec.identifier in frame.columns else lit(None).cast("string")
    )
    rules_act = rules_udf(rules.path.name if rules.path else None, spec)
    out = frame.select(claim_id.alias("claim_id"), claims.alias("claims"), predict(claims).alias("s")).select(
        "claim_id", "s.fraud_probability", col("s.risk_band").alias("model_risk_band"), "s.top_reasons",
        rules_act(col("claims"), col("s.risk_band")).alias("r"),
    ).select(
        "claim_id", "fraud_probability", "r.risk_band", "model_risk_band", "r.band_raised_by",
        "r.manual_review", "top_reasons", "r.rules_hit", lit(model.name).alias("model_name"),
        lit(model.version).alias("model_version"), lit(rules.version).alias("rules_version"),
    )  # fmt: skip
    out.select(*CLAIM_COLUMNS).write.mode("overwrite").parquet(str(target))
    return spark.read.parquet(str(target)).count()


def score_messages(spark, source: Path, target: Path, models: list[Champion]) -> int:
    """Each text model's label and probability for every message (never its text), as Parquet."""
    from pyspark.sql.functions import col, lit, struct

    names = column_names(source)
    check_columns(names, [TEXT], "scoring messages", source)
    frame = _read(spark, source, {TEXT: "string", MESSAGE_ID: "string"})
    message_id = col(MESSAGE_ID).cast("string") if MESSAGE_ID in names else lit(None).cast("string")
    scored = [message_id.alias(MESSAGE_ID)]  # each model's UDF once, then its struct unpacked
    for m in models:
        udf = mlflow.pyfunc.spark_udf(
            spark, m.uri, result_type="label string, probability double", env_manager="local"
        )
        scored.append(udf(struct(col(TEXT))).alias(m.family))
    flat = [col(MESSAGE_ID)]
    for m in models:
        flat += [col(f"{m.family}.label").alias(f"{m.family}_label"),
                 col(f"{m.family}.probability").alias(f"{m.family}_probability"),
                 lit(m.version).alias(f"{m.family}_version")]  # fmt: skip
    frame.select(*scored).select(*flat).write.mode("overwrite").parquet(str(target))
    return spark.read.parquet(str(target)).count()
