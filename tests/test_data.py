"""Tests of jaxrsa.data: the IDX reader and writer, sources, downloads, embedded MNIST."""

import gzip
import hashlib
import io
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from jaxrsa.data import (
    Dataset,
    _embedded,
    _mnist,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    write_idx,
)
from jaxrsa.data._download import Checksum, DownloadError, download

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No network, no user cache, no jaxrsa variables from the caller's environment."""

    def no_network(url, *args, **kwargs):
        raise AssertionError(f"a test tried to download {url}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    for var in ("JAXRSA_MNIST_DIR", "JAXRSA_FASHION_MNIST_DIR", "JAXRSA_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # The real Debian folder would otherwise answer before a download.
    monkeypatch.setattr(
        _mnist, "FASHION_MNIST", _mnist.FASHION_MNIST._replace(system_dirs=(tmp_path / "sys",))
    )


def idx_bytes(code: int, shape: tuple[int, ...], data: bytes) -> bytes:
    """An IDX file built by hand (the reference for the reader)."""
    header = bytes([0, 0, code, len(shape)])
    return header + b"".join(n.to_bytes(4, "big") for n in shape) + data


def write_split(folder: Path, split: str, labels, *, gz: bool = True, images=None) -> None:
    """Writes a small split with the given labels (and blank images unless given)."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(labels, dtype=np.uint8)
    if images is None:
        images = np.zeros((len(labels), 28, 28), np.uint8)
    suffix = ".gz" if gz else ""
    write_idx(folder / (STEMS[split][0] + suffix), images)
    write_idx(folder / (STEMS[split][1] + suffix), labels)


# --- IDX reader and writer -------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    "array",
    [
        np.array([5, 0, 4, 1, 9], np.uint8),
        np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28).astype(np.uint8),
        np.array([[-3, 7], [127, -128]], np.int8),
        np.array([-30000, 1, 30000], np.int16),
        np.array([[-(2**31), 2**31 - 1]], np.int32),
        np.array([1.5, -np.inf, 3e38], np.float32),
        np.array([[[np.pi]]], np.float64),
        np.zeros((0, 3), np.uint8),
    ],
    ids=["labels-1d", "images-3d", "int8", "int16", "int32", "float32", "float64", "empty"],
)
def test_idx_round_trip(tmp_path, array, suffix):
    path = tmp_path / f"x-idx{array.ndim}-ubyte{suffix}"
    write_idx(path, array)
    out = read_idx(path)
    assert out.dtype == array.dtype and out.shape == array.shape
    np.testing.assert_array_equal(out, array)
    out[...] = 0  # writable, native byte order
    assert out.dtype.isnative
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_idx_layout_matches_hand_built_file(tmp_path):
    path = tmp_path / "x"
    write_idx(path, np.array([[1, -2, 3]], np.int16))
    expected = idx_bytes(0x0B, (1, 3), b"\x00\x01\xff\xfe\x00\x03")
    assert path.read_bytes() == expected
    path.write_bytes(gzip.compress(idx_bytes(0x08, (2, 2), bytes([0, 255, 7, 9]))))
    np.testing.assert_array_equal(read_idx(path), [[0, 255], [7, 9]])  # gzip found by content


@pytest.mark.parametrize(
    ("array", "error", "match"),
    [
        (np.array([1, 2], np.int64), TypeError, "int64"),
        (np.array([True]), TypeError, "bool"),
        (np.array(3, np.uint8), ValueError, "dimensions"),
    ],
)
def test_write_idx_rejects(tmp_path, array, error, match):
    with pytest.raises(error, match=match):
        write_idx(tmp_path / "x", array)
    assert not (tmp_path / "x").exists()


GOOD = idx_bytes(0x08, (2, 3), bytes(range(6)))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "too short"),
        (b"\x00\x00\x08", "too short"),
        (b"\x01" + GOOD[1:], "bad magic"),
        (b"\x00\x07" + GOOD[2:], "bad magic"),
        (GOOD[:2] + b"\x0a" + GOOD[3:], "unknown IDX type code 0x0a"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (GOOD[:9], "truncated IDX header"),
        (GOOD[:-1], "truncated IDX data"),
        (GOOD + b"\x00", "1 unexpected bytes"),
        (gzip.compress(GOOD)[:-5], "corrupt gzip"),
        (b"\x1f\x8b" + b"not gzip at all", "corrupt gzip"),
        (gzip.compress(GOOD) + b"garbage", "corrupt gzip"),
        (gzip.compress(GOOD + b"\x00\x00"), "2 unexpected bytes"),
    ],
    ids=[
        "empty", "short-header", "magic-byte0", "magic-byte1", "type-code", "ndim-0",
        "cut-dims", "short-data", "trailing-byte", "truncated-gzip", "bad-gzip",
        "gzip-trailing-garbage", "gzip-trailing-data",
    ],
)  # fmt: skip
def test_read_idx_rejects_corrupt_file(tmp_path, content, match):
    path = tmp_path / "bad-idx2-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("images", "labels", "match"),
    [
        (np.zeros((3, 28, 28), np.uint8), np.array([1, 2], np.uint8), "3 images but 2 labels"),
        (np.zeros((2, 28, 28), np.uint8), np.array([1, 10], np.uint8), "label 10 out of range"),
        (np.zeros((2, 28, 27), np.uint8), np.array([1, 2], np.uint8), r"\[2, 28, 27\]"),
        (np.zeros((2, 28, 28), np.float32), np.array([1, 2], np.uint8), "float32"),
        (np.zeros((2, 28, 28), np.uint8), np.array([[1, 2]], np.uint8), "labels must be"),
        (np.zeros((0, 28, 28), np.uint8), np.array([], np.uint8), "no examples"),
    ],
    ids=["count-mismatch", "label-range", "image-shape", "image-dtype", "label-shape", "empty"],
)
def test_load_rejects_inconsistent_split(tmp_path, images, labels, match):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(ValueError, match=match) as info:
        load_mnist("train", source=tmp_path)
    assert "train-images-idx3-ubyte.gz" in str(info.value)


def test_load_from_folder_raw_and_gz(tmp_path, rng):
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    write_split(tmp_path, "test", [0, 9, 3, 3, 1], gz=False, images=images)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((5, 28, 28), np.uint8))
    data = load_mnist("test", source=str(tmp_path))
    assert isinstance(data, Dataset)
    x, y = data  # unpacks as images, labels
    np.testing.assert_array_equal(x, images)  # the raw file is preferred to its .gz
    assert y.dtype == np.int32 and y.tolist() == [0, 9, 3, 3, 1]
    with pytest.raises(FileNotFoundError, match="t10k-labels"):
        load_mnist("test", source=tmp_path / "elsewhere")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_fashion_mnist("train", source=tmp_path)


# --- embedded MNIST ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded():
    return {split: load_mnist(split, source="embedded") for split in ("train", "test")}


def test_embedded_splits(embedded):
    for split, n in (("train", 400), ("test", 100)):
        images, labels = embedded[split]
        assert images.shape == (10 * n, 28, 28) and images.dtype == np.uint8
        assert labels.shape == (10 * n,) and labels.dtype == np.int32
        np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, n))
        assert images.min() == 0 and images.max() == 255
        assert np.all(images[:, 0, :] == 0)  # MNIST digits are centred: blank borders
        # Shuffled (the source CSV is sorted by class): runs of 50 labels are as mixed as
        # under a uniform shuffle; their chi-square statistics sum to about their 9 df each.
        counts = np.stack([np.bincount(w, minlength=10) for w in np.split(labels, 10 * n // 50)])
        chi2, df = ((counts - 5.0) ** 2 / 5.0).sum(), 9 * len(counts)
        assert abs(chi2 - df) < 3 * np.sqrt(2 * df), (chi2, df)
    train = {image.tobytes() for image in embedded["train"].images}
    test = {image.tobytes() for image in embedded["test"].images}
    assert len(train) == 4000 and len(test) == 1000 and not train & test


def test_embedded_classes_differ(embedded):
    # Mean images of different digits differ far more than two halves of one digit do.
    images, labels = embedded["train"]
    means = np.stack([images[labels == c].astype(np.float64).mean(0) for c in range(10)])
    between = np.linalg.norm(means[:, None] - means[None], axis=(2, 3))
    ones = images[labels == 1].astype(np.float64)
    within = np.linalg.norm(ones[::2].mean(0) - ones[1::2].mean(0))
    assert between[~np.eye(10, dtype=bool)].min() > 3 * within


def test_embedded_file_is_checked(tmp_path, monkeypatch):
    good = _embedded._resource().read_bytes()
    assert hashlib.sha256(good).hexdigest() == _embedded.SHA256
    corrupt = tmp_path / "mnist_5k.npz"
    corrupt.write_bytes(good[:1000] + bytes([good[1000] ^ 1]) + good[1001:])
    monkeypatch.setattr(_embedded, "_resource", lambda: corrupt)
    with pytest.raises(ValueError, match="SHA-256.*reinstall"):
        load_mnist("train", source="embedded")
    # A well-formed file of the wrong make-up, with its hash recorded, is still refused.
    buffer = io.BytesIO()
    labels = np.repeat(np.arange(10, dtype=np.uint8), 40)
    labels[0] = 1
    np.savez(buffer, train_images=np.zeros((400, 28, 28), np.uint8), train_labels=labels)
    corrupt.write_bytes(buffer.getvalue())
    monkeypatch.setattr(_embedded, "SHA256", hashlib.sha256(buffer.getvalue()).hexdigest())
    with pytest.raises(ValueError, match="400 examples per class"):
        load_mnist("train", source="embedded")


# --- where "auto" looks ------------------------------------------------------------------------


def auto_labels(loader=load_mnist):
    return loader("train").labels.tolist()


def test_auto_order(tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "jaxrsa"
    write_split(cache / "fashion-mnist", "train", [3])
    write_split(tmp_path / "sys", "train", [4])
    assert auto_labels(load_fashion_mnist) == [3]  # the cache comes before the system folder
    (cache / "fashion-mnist" / "train-images-idx3-ubyte.gz").unlink()
    assert auto_labels(load_fashion_mnist) == [4]

    write_split(cache / "mnist", "train", [1])
    assert auto_labels() == [1]
    write_split(tmp_path / "env", "train", [2], gz=False)
    monkeypatch.setenv("JAXRSA_MNIST_DIR", str(tmp_path / "env"))
    assert auto_labels() == [2]  # the variable comes before the cache
    write_split(tmp_path / "explicit", "train", [5])
    assert load_mnist("train", source=tmp_path / "explicit").labels.tolist() == [5]

    monkeypatch.setenv("JAXRSA_MNIST_DIR", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="JAXRSA_MNIST_DIR"):
        load_mnist("train")  # a variable that names no files is an error, not skipped


def test_cache_defaults_to_home(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write_split(tmp_path / "home" / ".cache" / "jaxrsa" / "mnist", "test", [7, 8])
    assert load_mnist("test").labels.tolist() == [7, 8]


def test_auto_falls_back_to_embedded(monkeypatch, embedded):
    monkeypatch.setenv("JAXRSA_OFFLINE", "1")
    with pytest.warns(UserWarning, match="JAXRSA_OFFLINE is set; using the embedded"):
        images, labels = load_mnist("test")
    np.testing.assert_array_equal(labels, embedded["test"].labels)
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("test")


def test_auto_falls_back_when_network_fails(tmp_path, monkeypatch):
    def unreachable(url, timeout):
        assert url.startswith("https://ossci-datasets.s3.amazonaws.com/mnist/train-") and timeout
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.warns(UserWarning, match="download failed.*Name or service not known"):
        assert len(load_mnist("train").labels) == 4000
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_auto_falls_back_when_cache_is_unwritable(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    with pytest.warns(UserWarning, match="cannot write to"):
        assert len(load_mnist("test").labels) == 1000


def serve(folder: Path, split: str, labels, *, corrupt: str = "") -> dict:
    """Writes a split as a download folder; returns checksums (wrong for file ``corrupt``)."""
    write_split(folder, split, labels)
    sums = {}
    for stem in STEMS[split]:
        data = (folder / f"{stem}.gz").read_bytes()
        sums[stem] = (
            Checksum("sha256", hashlib.sha256(data + (stem == corrupt) * b"!").hexdigest()),
        )
    return sums


def test_auto_downloads_into_cache(tmp_path, monkeypatch):
    server = tmp_path / "server"
    sums = serve(server, "train", [6, 0])
    fake = _mnist.MNIST._replace(base_url=server.as_uri() + "/", checksums=sums)
    monkeypatch.setattr(_mnist, "MNIST", fake)
    monkeypatch.setattr(urllib.request, "urlopen", urllib.request.build_opener().open)
    assert load_mnist("train").labels.tolist() == [6, 0]
    cached = tmp_path / "cache" / "jaxrsa" / "mnist"
    assert sorted(p.name for p in cached.iterdir()) == [f"{s}.gz" for s in STEMS["train"]]
    for stem in STEMS["train"]:
        assert (cached / f"{stem}.gz").read_bytes() == (server / f"{stem}.gz").read_bytes()
    (server / "train-labels-idx1-ubyte.gz").unlink()
    assert load_mnist("train").labels.tolist() == [6, 0]  # from the cache now


@pytest.mark.parametrize("corrupt", STEMS["train"])
def test_auto_download_checksum_mismatch_leaves_nothing(tmp_path, monkeypatch, corrupt):
    server = tmp_path / "server"
    sums = serve(server, "train", [6, 0], corrupt=corrupt)
    fake = _mnist.MNIST._replace(base_url=server.as_uri() + "/", checksums=sums)
    monkeypatch.setattr(_mnist, "MNIST", fake)
    monkeypatch.setattr(urllib.request, "urlopen", urllib.request.build_opener().open)
    with pytest.warns(UserWarning, match=f"{corrupt}.gz: checksum mismatch"):
        assert len(load_mnist("train").labels) == 4000
    cached = tmp_path / "cache" / "jaxrsa" / "mnist"
    left = sorted(p.name for p in cached.iterdir())
    assert left == ([] if corrupt == STEMS["train"][0] else [f"{STEMS['train'][0]}.gz"])


def test_bad_arguments():
    with pytest.raises(ValueError, match="split: expected 'train' or 'test', got 'valid'"):
        load_mnist("valid", source="embedded")
    with pytest.raises(TypeError, match="source"):
        load_mnist("train", source=3)
    with pytest.raises(ValueError, match="no embedded Fashion-MNIST"):
        load_fashion_mnist("train", source="embedded")


# --- the downloader -----------------------------------------------------------------------------


class FakeResponse(io.BytesIO):
    """What an opener returns; fails after ``fail_after`` bytes if given."""

    def __init__(self, data: bytes, fail_after: int | None = None):
        super().__init__(data)
        self.fail_after = fail_after

    def read(self, size=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(min(size, 7))


def opener_for(data: bytes, **kwargs):
    def opener(url, timeout):
        assert timeout == 10.0
        return FakeResponse(data, **kwargs)

    return opener


RAW = b"IDX bytes " * 100
PAYLOAD = gzip.compress(RAW)


@pytest.mark.parametrize(
    "checksums",
    [
        [Checksum("md5", hashlib.md5(PAYLOAD).hexdigest())],
        [Checksum("sha256", "0" * 64), Checksum("sha256", hashlib.sha256(PAYLOAD).hexdigest())],
        [Checksum("md5", "0" * 32), Checksum("sha256", hashlib.sha256(RAW).hexdigest(), True)],
    ],
    ids=["gz-md5", "second-of-two", "decompressed-sha256"],
)  # fmt: skip
def test_download_verifies(tmp_path, checksums):
    dest = tmp_path / "sub" / "f.gz"
    assert download("https://x/f.gz", dest, checksums, opener=opener_for(PAYLOAD)) == dest
    assert dest.read_bytes() == PAYLOAD
    assert [p.name for p in dest.parent.iterdir()] == ["f.gz"]


@pytest.mark.parametrize(
    ("opener", "checksums", "match"),
    [
        (opener_for(PAYLOAD), [Checksum("md5", "0" * 32)], "checksum mismatch; got md5 "),
        (opener_for(b"<html>"), [Checksum("sha256", "0" * 64, True)], "gzip"),
        (opener_for(PAYLOAD, fail_after=20), [Checksum("md5", "0" * 32)], "connection reset"),
        (opener_for(PAYLOAD[:-9]), [Checksum("sha256", "0" * 64, True)], "EOFError"),
    ],
    ids=["mismatch", "not-gzip", "reset", "truncated-gzip"],
)
def test_download_failure_leaves_old_file(tmp_path, opener, checksums, match):
    dest = tmp_path / "f.gz"
    dest.write_bytes(b"old")
    with pytest.raises(DownloadError, match=match):
        download("https://x/f.gz", dest, checksums, opener=opener)
    assert dest.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.gz"]  # no temporary file left


def test_download_limits(tmp_path):
    sums = [Checksum("md5", hashlib.md5(PAYLOAD).hexdigest())]
    with pytest.raises(DownloadError, match="larger than 10 bytes"):
        download("https://x/f", tmp_path / "f", sums, max_bytes=10, opener=opener_for(PAYLOAD))
    with pytest.raises(ValueError, match="without a checksum"):
        download("https://x/f", tmp_path / "f", [], opener=opener_for(PAYLOAD))
    assert list(tmp_path.iterdir()) == []


# --- Fashion-MNIST from Debian's dataset-fashion-mnist ---------------------------------------


@pytest.mark.skipif(
    not FASHION_DIR.is_dir() and not os.environ.get("JAXRSA_REQUIRE_FASHION_MNIST"),
    reason="apt-get install dataset-fashion-mnist (CI installs it and sets JAXRSA_REQUIRE_...)",
)
@pytest.mark.parametrize(("split", "n"), [("train", 60000), ("test", 10000)])
def test_fashion_mnist_from_debian(split, n):
    images, labels = load_fashion_mnist(split, source=FASHION_DIR)
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, n // 10))
    # The recorded checksums of the decompressed bytes are those of these files.
    for stem in STEMS[split]:
        (checksum,) = [c for c in _mnist.FASHION_MNIST.checksums[stem] if c.decompressed]
        data = gzip.decompress((FASHION_DIR / f"{stem}.gz").read_bytes())
        assert hashlib.sha256(data).hexdigest() == checksum.hexdigest
