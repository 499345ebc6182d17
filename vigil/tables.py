"""Turn whatever the caller has into an Arrow table: pandas, polars, Arrow, or a Parquet/CSV/Feather path.

Every failure is an ``InputError`` that names the source and what to do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq

from vigil.errors import InputError

__all__ = ["ColumnKind", "declared_type", "describe_source", "kind_of", "read_table"]

ColumnKind = Literal["numeric", "categorical", "datetime"]

_CSV = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")
_PARQUET = (".parquet", ".pq", ".parq")
_FEATHER = (".feather", ".arrow", ".ipc")


def describe_source(data: Any) -> str:
    """A short human name for a data source: its path, or its type."""
    if isinstance(data, str | os.PathLike):
        return str(data)
    return type(data).__module__.split(".")[0] + "." + type(data).__name__


_DECLARED = b"vigil.declared_type"


def read_table(data: Any, *, what: str = "input", for_profiling: bool = False) -> pa.Table:
    """Read ``data`` into a ``pyarrow.Table``; ``what`` ("reference", "current") goes into error messages.

    ``for_profiling``: read a Parquet file the way profiling is fastest: memory-mapped (no copy of the file
    through the kernel), text columns dictionary-encoded as Parquet stores them (twice as fast to read and
    to profile as decoding every string); ``declared_type`` still gives the file's own types."""
    table = _to_arrow(data, what, for_profiling)
    if table.num_columns == 0:
        raise InputError(f"{what} ({describe_source(data)}) has no columns")
    if table.num_rows == 0:
        raise InputError(f"{what} ({describe_source(data)}) has no rows: nothing to compare")
    dupes = {n for n in table.column_names if table.column_names.count(n) > 1}
    if dupes:
        raise InputError(f"{what} ({describe_source(data)}) has duplicate column names: {sorted(dupes)}")
    return table


def declared_type(field: pa.Field) -> str:
    """The type of a column as its source declared it (``string`` for text read dictionary-encoded)."""
    declared = (field.metadata or {}).get(_DECLARED)
    return declared.decode() if declared is not None else str(field.type)


def _to_arrow(data: Any, what: str, for_profiling: bool = False) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, str | os.PathLike):
        return _read_path(Path(data), what, for_profiling)
    module = type(data).__module__
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            names = [str(n) for n in data.columns]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise InputError(f"{what} ({describe_source(data)}) has duplicate column names: {dupes}")
            try:
                return pa.Table.from_pandas(data, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise InputError(
                    f"{what}: a pandas column could not be converted to Arrow: {_one_line(str(exc))}"
                ) from exc
    if module.startswith("polars") and hasattr(data, "to_arrow"):
        table = data.to_arrow()
        if isinstance(table, pa.Table):
            return table
    raise InputError(
        f"{what}: cannot read a {type(data).__name__}; pass a pandas or polars DataFrame, a pyarrow Table, "
        "or the path of a Parquet, CSV or Feather file"
    )


def _read_path(path: Path, what: str, for_profiling: bool = False) -> pa.Table:
    if not path.exists():
        raise InputError(f"{what}: file not found: {path}")
    if path.is_dir():
        raise InputError(f"{what}: {path} is a directory; pass a Parquet, CSV or Feather file")
    name = path.name.lower()
    try:
        if name.endswith(_PARQUET):
            return _read_parquet(path, for_profiling)
        if name.endswith(_FEATHER):
            table = feather.read_table(path)
            table.validate(full=True)  # IPC buffers are used as stored: a corrupt file could crash later
            return table
        if name.endswith(_CSV):
            delimiter = "\t" if ".tsv" in name else ","
            return pacsv.read_csv(
                path,
                parse_options=pacsv.ParseOptions(delimiter=delimiter),
                convert_options=pacsv.ConvertOptions(strings_can_be_null=True),  # "" is a null, as in pandas
            )
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{what}: cannot read {path}: {_one_line(str(exc))}") from exc
    raise InputError(
        f"{what}: unknown file type {path.suffix or '(none)'} for {path}; "
        "use .parquet, .csv, .tsv (optionally .gz) or .feather"
    )


def _read_parquet(path: Path, for_profiling: bool) -> pa.Table:
    """One Parquet file, read by ``ParquetFile``: ``pq.read_table`` goes through ``pyarrow.dataset``, whose
    import brings pandas in (half a second) for a single file it reads the same."""
    text: list[str] = []
    if for_profiling:
        schema = pq.read_schema(path)
        text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    with pq.ParquetFile(path, read_dictionary=text or None, memory_map=for_profiling) as file:
        table = file.read()
    if not text:
        return table
    fields = [
        f.with_metadata({**(f.metadata or {}), _DECLARED: str(schema.field(f.name).type).encode()})
        if f.name in text
        else f
        for f in table.schema
    ]
    return pa.Table.from_arrays(table.columns, schema=pa.schema(fields, table.schema.metadata))


def _one_line(text: str) -> str:
    """A library's message fit for one line of a terminal: whitespace runs as one space, control characters
    (a corrupt file's bytes echoed back) escaped."""
    text = " ".join(text.split())
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def kind_of(dtype: pa.DataType) -> ColumnKind | None:
    """The kind of analysis an Arrow type gets; None for types Vigil does not profile (lists, structs)."""
    if pa.types.is_boolean(dtype):
        return "categorical"
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "numeric"
    if pa.types.is_timestamp(dtype) or pa.types.is_date(dtype):
        return "datetime"
    if pa.types.is_dictionary(dtype):
        return kind_of(dtype.value_type)
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return "categorical"
    return None
