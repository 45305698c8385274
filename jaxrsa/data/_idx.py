"""Reading and writing IDX files, the binary format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number ``00 00 TT DD`` (``TT`` the element type,
``DD`` the number of dimensions), ``DD`` big-endian uint32 dimension sizes, then
the elements in C order, big-endian. The distributed files are gzip-compressed.
"""

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from jaxrsa import _files

# IDX type code -> big-endian element type.
_CODE_TO_DTYPE = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_KIND_TO_CODE = {(dt.kind, dt.itemsize): code for code, dt in _CODE_TO_DTYPE.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file, gzip-compressed or raw, into a NumPy array.

    Compression is recognised from the file's first bytes, not its name. Every
    part of the file is checked: the gzip stream, the magic number, the type
    code, the header length, and that the data holds exactly as many bytes as the
    header's dimensions declare (neither truncated nor followed by other bytes).

    Args:
        path: the file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns:
        A writable array in native byte order with the file's dtype (uint8 for
        MNIST) and shape (``[60000, 28, 28]`` for MNIST training images).

    Raises:
        ValueError: the file is not a valid IDX file; the message names it.

    Examples:
        >>> import tempfile, numpy as np
        >>> from jaxrsa.data import read_idx, write_idx
        >>> path = tempfile.mkdtemp() + "/labels-idx1-ubyte.gz"
        >>> write_idx(path, np.array([5, 0, 4], dtype=np.uint8))
        >>> read_idx(path)
        array([5, 0, 4], dtype=uint8)
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path}: corrupt gzip data ({err})") from err
    return _parse(raw, path)


def _parse(raw: bytes, path: Path) -> np.ndarray:
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
        raise ValueError(
            f"{path}: bad magic number 0x{raw[:4].hex()}; an IDX file starts with two zero bytes"
        )
    if code not in _CODE_TO_DTYPE:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header declares 0 dimensions")
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, {ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", raw[4:offset])
    dtype = _CODE_TO_DTYPE[code]
    expected = math.prod(shape) * dtype.itemsize
    found = len(raw) - offset
    if found < expected:
        raise ValueError(
            f"{path}: truncated IDX data: shape {shape} needs {expected} bytes, found {found}"
        )
    if found > expected:
        raise ValueError(
            f"{path}: {found - expected} unexpected bytes after the IDX data of shape {shape}"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=offset)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Writes an array as an IDX file (atomically), gzip-compressed when ``path`` ends in ``.gz``.

    Args:
        path: the file to write.
        array: at least 1-D, of dtype uint8, int8, int16, int32, float32 or
            float64, each dimension below 2**32.

    Raises:
        TypeError: ``array`` has a dtype that IDX cannot hold.
        ValueError: ``array`` is 0-D, has more than 255 dimensions, or a
            dimension of 2**32 or more.
    """
    array = np.asarray(array)
    code = _KIND_TO_CODE.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise TypeError(
            f"array: dtype {array.dtype} cannot be stored in IDX "
            "(uint8, int8, int16, int32, float32 or float64)"
        )
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"array: IDX holds 1 to 255 dimensions, got {array.ndim}")
    if max(array.shape) >= 2**32:
        raise ValueError(f"array: dimension sizes must be below 2**32, got {array.shape}")
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    data = header + np.ascontiguousarray(array, dtype=_CODE_TO_DTYPE[code]).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    _files.write_bytes(path, data)
