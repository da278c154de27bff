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


CODE_DTYPE = np.dtype("i1")
SCALE_DTYPE = np.dtype("<f4")
CODE_LIMIT = 127
"""Codes are symmetric, in [-127, 127]: -128 is never used, so negating a code cannot overflow."""

CodeMatrix = npt.NDArray[np.int8]


def quantise(matrix: npt.ArrayLike) -> tuple[CodeMatrix, FloatMatrix]:
    """Symmetric per-vector int8: row i is approximately `scales[i] * codes[i]`, with `scales[i] = max|row| / 127`.

    Per-vector (not per-dimension) scaling: one float per row, and the int8 dot product of two code rows times the
    two scales approximates their float dot product with an error of about `scale / sqrt(12)` per unit vector.
    """
    rows = np.asarray(matrix, dtype=np.float32)
    if rows.ndim != 2:
        raise ValueError(f"expected a matrix, got shape {rows.shape}")
    peaks = np.abs(rows).max(axis=1) if rows.shape[1] else np.zeros(len(rows), np.float32)
    scales = (peaks / CODE_LIMIT).astype(np.float32)
    safe = np.where(scales > 0, scales, np.float32(1.0))
    codes = np.rint(rows / safe[:, None]).clip(-CODE_LIMIT, CODE_LIMIT).astype(np.int8)
    return np.ascontiguousarray(codes), scales


@dataclass(frozen=True, eq=False)
class QuantisedBlock:
    """All vectors of one chat for one model as int8 codes: row i approximates `scales[i] * codes[i]`.

    What the in-memory index holds; the float32 truth stays in storage. Arrays are C-contiguous and writable.
    """

    item_ids: npt.NDArray[np.int64]
    facets: npt.NDArray[np.int8]
    scales: FloatMatrix
    codes: CodeMatrix

    def __post_init__(self) -> None:
        rows = len(self.item_ids)
        if len(self.facets) != rows or len(self.scales) != rows or self.codes.ndim != 2 or len(self.codes) != rows:
            raise ValueError("item_ids, facets, scales and codes must have the same number of rows")

    @classmethod
    def empty(cls, dim: int) -> QuantisedBlock:
        return cls(np.empty(0, np.int64), np.empty(0, np.int8), np.empty(0, np.float32), np.empty((0, dim), np.int8))

    @classmethod
    def of(cls, block: VectorBlock) -> QuantisedBlock:
        """Quantise a float32 block (tests, benchmarks, the unsealed tail)."""
        codes, scales = quantise(block.matrix)
        return cls(
            np.require(block.item_ids, np.int64, ["C", "W"]), np.require(block.facets, np.int8, ["C", "W"]),
            scales, codes,
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def dim(self) -> int:
        return int(self.codes.shape[1])
