"""What every sequential detector shares: the verbs, the input check and the binary form.

A detector reads a stream in batches: ``update(values)`` returns the positions *in that batch* (0-based,
ascending) where it detected a change, and after each detection starts afresh as its algorithm
prescribes. Feeding a stream in one batch or in any split gives the same detections (positions offset by
where each piece starts). ``to_bytes()`` / ``from_bytes()`` keep the state mid-stream
(:mod:`vigil.detectors.codec`).
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["Detector", "Positions"]

Positions = npt.NDArray[np.int64]
"""Positions in a batch where a change was detected."""

D = TypeVar("D", bound="Detector")


class Detector:
    """The verbs of a sequential change detector (each algorithm is one subclass, one module)."""

    NAME: ClassVar[str] = ""

    def update(self, values: npt.ArrayLike) -> Positions:
        """Read ``values`` in order; the positions among them where a change was detected."""
        raise NotImplementedError

    @staticmethod
    def _values(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        x = np.asarray(values, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(x)):
            bad = int(np.flatnonzero(~np.isfinite(x))[0])
            raise ValueError(
                f"value at position {bad} is {float(x[bad])}: detectors read finite numbers only; "
                "drop missing values before update"
            )
        return x

    def state(self) -> tuple[dict[str, Any], list[npt.NDArray[Any]]]:
        """The settings and state mid-stream as :func:`vigil.stats.codec.pack` stores them: a JSON-able
        header (``{"params": constructor arguments, ...}``) and the arrays; :meth:`from_state` reads them
        back. ``to_bytes`` is the versioned form."""
        raise NotImplementedError

    @classmethod
    def from_state(cls: type[D], header: dict[str, Any], arrays: list[npt.NDArray[Any]]) -> D:
        """The detector whose :meth:`state` was ``(header, arrays)``, ready to go on with the stream."""
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """The detector's settings and state mid-stream, versioned (:mod:`vigil.detectors.codec`)."""
        from vigil.detectors.codec import dump

        return dump(self)

    @classmethod
    def from_bytes(cls: type[D], data: bytes) -> D:
        """The detector ``to_bytes`` wrote; another kind or a newer format raises ``InputError``."""
        from vigil.detectors.codec import load

        out = load(data)
        if not isinstance(out, cls):
            from vigil.errors import InputError

            raise InputError(
                f"the bytes hold a {type(out).__name__}; read them with {type(out).__name__}.from_bytes"
            )
        return out
