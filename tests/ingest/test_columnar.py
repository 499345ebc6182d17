"""The vectorised conversion with a cached schema gives exactly what type inference gives: Arrow would
truncate a float into a cached integer type without a word (9.87 -> 9)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from vigil.ingest.columnar import SchemaCache, fast_table

T = 1_800_000_000.0


def _rows(prediction: Any, x: Any, tokens: int = 3) -> list[dict[str, Any]]:
    return [
        {"model": "m", "timestamp": T, "prediction": prediction, "features": {"x": x}, "tokens_in": tokens}
    ]


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ((1, 3), (9.87, 4.5)),  # ints cached, floats arrive: kept as floats
        ((1, 3), (2, 4)),  # ints again: still ints
        ((1.5, 3.5), (2, 4)),  # floats cached, ints arrive
        ((1, 3), (None, None)),  # nulls
        ((1, 3), (2**60 + 1, 7)),  # beyond float64's exact integers: inferred instead
    ],
)
def test_cached_conversion_equals_inference(first: tuple[Any, Any], then: tuple[Any, Any]) -> None:
    cache = SchemaCache()
    assert fast_table(_rows(*first), cache) is not None
    cached = fast_table(_rows(*then), cache)
    inferred = fast_table(_rows(*then))
    assert cached is not None and inferred is not None
    assert cached.column("prediction").to_pylist() == inferred.column("prediction").to_pylist()
    assert cached.column("features").to_pylist() == inferred.column("features").to_pylist()
    assert cached.column("prediction").to_pylist() == [then[0]]
    assert pa.types.is_integer(cached.column("tokens_in").type)
