"""Downloading a file with checksums, written atomically."""

import gzip
import hashlib
import http.client
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from jaxrsa import _files

_CHUNK = 1 << 20
# What a failed transfer or a corrupt gzip body raises.
_FAILURES = (OSError, EOFError, zlib.error, http.client.HTTPException)


class Checksum(NamedTuple):
    """A published digest of a file.

    Attributes:
        algorithm: a :mod:`hashlib` name, ``"md5"`` or ``"sha256"``.
        hexdigest: the expected digest, lower-case hex.
        decompressed: whether the digest is of the gunzipped bytes rather than
            of the file as downloaded (Debian recompressed Fashion-MNIST, so only
            the decompressed bytes are the same everywhere).
    """

    algorithm: str
    hexdigest: str
    decompressed: bool = False


class DownloadError(OSError):
    """A download failed: network, HTTP, size or checksum. Nothing was written."""


def download(
    url: str,
    dest: Path,
    checksums: Sequence[Checksum],
    *,
    timeout: float = 10.0,
    max_bytes: int = 100 << 20,
    opener: Callable | None = None,
) -> Path:
    """Downloads ``url`` to ``dest`` if one of ``checksums`` matches.

    The bytes go to a temporary file beside ``dest``, which is renamed onto
    ``dest`` (``os.replace``) only once it is complete and verified; on any
    failure it is removed, so ``dest`` is either absent or whole.

    Args:
        url: what to fetch (``https://``, ``http://`` or ``file://``).
        dest: where to put it; its folder is created.
        checksums: accepted digests; the file is kept if any one matches.
        timeout: seconds for connecting and for each read, short so that a
            machine without network fails fast.
        max_bytes: larger responses are abandoned.
        opener: ``opener(url, timeout=...)`` returning a readable context
            manager; ``urllib.request.urlopen`` (looked up at call time) if None.

    Returns:
        ``dest``.

    Raises:
        ValueError: ``checksums`` is empty.
        DownloadError: the download or the verification failed.
    """
    if not checksums:
        raise ValueError("checksums: refusing to download without a checksum")
    opener = urllib.request.urlopen if opener is None else opener
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DownloadError(f"{url}: cannot write to {dest.parent}: {err}") from err
    try:
        with _files.atomic_open(dest) as out:
            digests = _fetch(url, out, opener, timeout, max_bytes, checksums)
            out.flush()
            if any(c.decompressed for c in checksums):
                digests |= _gunzipped_digests(_files.temporary_path(dest), checksums)
            if not any(digests[c.algorithm, c.decompressed] == c.hexdigest for c in checksums):
                got = ", ".join(
                    f"{alg}{' (decompressed)' if dec else ''} {hexd}"
                    for (alg, dec), hexd in sorted(digests.items())
                )
                raise DownloadError(f"{url}: checksum mismatch; got {got}")
    except _FAILURES as err:
        if isinstance(err, DownloadError):
            raise
        raise DownloadError(f"{url}: {type(err).__name__}: {err}") from err
    return dest


def _fetch(url, out, opener, timeout, max_bytes, checksums) -> dict[tuple[str, bool], str]:
    hashes = {c.algorithm: hashlib.new(c.algorithm) for c in checksums if not c.decompressed}
    size = 0
    with opener(url, timeout=timeout) as response:
        while chunk := response.read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise DownloadError(f"{url}: larger than {max_bytes} bytes")
            out.write(chunk)
            for h in hashes.values():
                h.update(chunk)
    return {(alg, False): h.hexdigest() for alg, h in hashes.items()}


def _gunzipped_digests(path: Path, checksums) -> dict[tuple[str, bool], str]:
    hashes = {c.algorithm: hashlib.new(c.algorithm) for c in checksums if c.decompressed}
    with gzip.open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            for h in hashes.values():
                h.update(chunk)
    return {(alg, True): h.hexdigest() for alg, h in hashes.items()}
