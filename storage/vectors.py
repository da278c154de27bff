"""How vectors are validated and encoded, so every stored and indexed vector follows the same rules.

Every vector is kept L2-normalised as little-endian float32: cosine similarity is then a plain dot product,
and a BLOB of n vectors is exactly the bytes of an (n, d) matrix, so loading needs no per-row work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]
VECTOR_DTYPE = np.dtype("<f4")
ID_DTYPE = np.dtype("<i8")
FACET_DTYPE = np.dtype("i1")


def unit_vector(vector: npt.ArrayLike, dim: int | None = None) -> FloatMatrix:
    """A C-contiguous float32 copy of length 1; rejects what would poison every later cosine (NaN, zero)."""
    array = np.array(vector, dtype=np.float32, copy=True, order="C")
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"a vector must be one-dimensional and non-empty, got shape {array.shape}")
    if dim is not None and array.size != dim:
        raise ValueError(f"expected a vector of dimension {dim}, got {array.size}")
    norm = float(np.linalg.norm(array))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("a vector must be finite and non-zero")
    array /= norm
    return array


def to_blob(vector: FloatMatrix) -> bytes:
    return vector.astype(VECTOR_DTYPE, copy=False).tobytes()


def from_blob(blob: bytes) -> FloatMatrix:
    """A read-only view of the BLOB (no copy); callers that keep it must copy."""
    return np.frombuffer(blob, dtype=VECTOR_DTYPE)


@dataclass(frozen=True, eq=False)
class VectorBlock:
    """All vectors of one chat for one model: row i is `matrix[i]`, of item `item_ids[i]`, facet `facets[i]`.

    Rows come in no particular order. `matrix` is C-contiguous and writable, so an index can adopt it without
    a copy.
    """

    item_ids: npt.NDArray[np.int64]
    facets: npt.NDArray[np.int8]
    matrix: FloatMatrix

    def __post_init__(self) -> None:
        rows = len(self.item_ids)
        if len(self.facets) != rows or self.matrix.ndim != 2 or self.matrix.shape[0] != rows:
            raise ValueError("item_ids, facets and matrix must have the same number of rows")

    @classmethod
    def empty(cls, dim: int) -> VectorBlock:
        return cls(np.empty(0, np.int64), np.empty(0, np.int8), np.empty((0, dim), np.float32))

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])
