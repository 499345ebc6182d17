"""The same backfill on Spark: the partitions mapped with ``mapInPandas`` (``profile_partition``), each file's
results merged with ``applyInPandas`` (``merge``, grouped by the file's writer), each file saved by the
driver as on Dask. Needs PySpark (``pip install 'vigil[spark]'``) and Java; the executors must read the
paths and import vigil.

    from pyspark.sql import SparkSession
    spark = SparkSession.builder.getOrCreate()
    for result in run_on_spark(Backfill(config, store, "credit"), paths, spark): ...
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from vigil.backfill.partitions import Partition
from vigil.backfill.profiling import Job, profile_partition
from vigil.backfill.run import Backfill, FileResult, tree

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["run_on_spark"]

_SCHEMA = "writer string, data binary"


def run_on_spark(backfill: Backfill, paths: list[str], spark: Any) -> Iterator[FileResult]:
    """``Backfill.run`` with a ``SparkSession`` instead of a Dask client."""
    todo = yield from backfill.pending(paths)
    if not todo:
        return
    job = backfill.job(todo)
    rows = [(writer, pickle.dumps(part)) for writer, parts in todo.items() for part in parts]
    tasks = spark.createDataFrame(rows, _SCHEMA).repartition(len(rows))
    mapped = tasks.mapInPandas(lambda batches: _map(batches, job), _SCHEMA)
    reduced = mapped.groupBy("writer").applyInPandas(_reduce, _SCHEMA)
    for row in reduced.toLocalIterator():
        parts: list[Partition] = todo[row["writer"]]
        yield backfill.save(parts[0].path, row["writer"], pickle.loads(row["data"]))


def _map(batches: Iterator[pd.DataFrame], job: Job) -> Iterator[pd.DataFrame]:
    import pandas as pd

    for batch in batches:
        out = [
            (writer, pickle.dumps(profile_partition(pickle.loads(data), job)))
            for writer, data in zip(batch["writer"], batch["data"], strict=True)
        ]
        yield pd.DataFrame(out, columns=["writer", "data"])


def _reduce(group: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    merged = tree([pickle.loads(data) for data in group["data"]])
    return pd.DataFrame([(group["writer"].iloc[0], pickle.dumps(merged))], columns=["writer", "data"])
