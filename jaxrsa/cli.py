"""The `jaxrsa` command: `demo`, `compare` and `embed`.

Every error the user can fix (a bad option, path or file) ends with one line on stderr that
names the argument or the file, and exit code 2, never a traceback (set JAXRSA_DEBUG=1 to see
one). Every file is written atomically (`jaxrsa._files`), only at the path printed, and never
over an input.
"""

import argparse
import os
import re
import sys
import zipfile
from pathlib import Path

import numpy as np

from jaxrsa import _files, _inputs
from jaxrsa._demo import DemoConfig

EXIT_USAGE = 2


class CommandError(Exception):
    """A problem with what the user asked for; reported as one line, exit code 2."""


# --------------------------------------------------------------------------- reading files


def read_activations(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Models' activations from an `.npz` (one `[n, d_i]` array per model) or a folder of `.npy`.

    Arrays are memory-mapped where the format allows (folders of `.npy`), so large sets need not
    fit in memory.
    """
    path = Path(path)
    if not path.exists():
        raise CommandError(f"{path}: no such file or directory")
    if path.is_dir():
        files = sorted(path.glob("*.npy"))
        if not files:
            raise CommandError(f"{path}: the folder holds no .npy files")
        acts = {}
        for f in files:
            try:
                acts[f.stem] = np.load(f, mmap_mode="r", allow_pickle=False)
            except (ValueError, OSError) as e:
                raise CommandError(f"{f}: not a readable .npy array ({e})") from None
    else:
        acts = _read_npz(path)
    for name, a in acts.items():
        if a.ndim != 2:
            raise CommandError(
                f"{path}: model {name!r} has shape {a.shape}; expected [n, d] (examples x features)"
            )
    return acts


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise CommandError(f"{path}: not a readable .npz file ({e})") from None
    if not arrays:
        raise CommandError(f"{path}: the file holds no arrays")
    return arrays


def read_matrix(path: str | os.PathLike) -> tuple[np.ndarray, list[str], str]:
    """A similarity matrix written by `jaxrsa compare` (.npz) or a plain square `.npy`/`.csv`.

    Returns the matrix, model names and its kind ("similarity" or "dissimilarity").
    """
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    if path.suffix == ".npz":
        z = _read_npz(path)
        key = next((k for k in ("similarity", "dissimilarity") if k in z), None)
        if key is None:
            raise CommandError(f"{path}: expected an array named 'similarity' or 'dissimilarity'")
        matrix, kind = z[key], key
        names = [str(n) for n in z["names"]] if "names" in z else None
    else:
        try:
            if path.suffix == ".npy":
                matrix = np.load(path, allow_pickle=False)
            else:
                matrix = np.loadtxt(path, delimiter=",", ndmin=2)
        except (ValueError, OSError) as e:
            raise CommandError(f"{path}: not a readable matrix ({e})") from None
        kind, names = "similarity", None
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise CommandError(f"{path}: expected a square matrix, got shape {matrix.shape}")
    names = names or [f"model {i}" for i in range(matrix.shape[0])]
    if len(names) != matrix.shape[0]:
        raise CommandError(f"{path}: {len(names)} names for a {matrix.shape[0]}-model matrix")
    return np.asarray(matrix, np.float64), names, kind


def groups_of(names: list[str], pattern: str | re.Pattern) -> list[str]:
    """The group of each model: the first match of `pattern` in its name (else the name)."""
    regex = re.compile(pattern)
    return [(m.group(0) if (m := regex.search(n)) else n) for n in names]


# --------------------------------------------------------------------------- writing files

COMPARE_SUFFIXES = (".npz", ".csv")


def output_path(out: str, suffixes: tuple[str, ...], inputs=(), option: str = "--out") -> Path:
    """`out` as the path to write, or a CommandError naming `option`.

    The format comes from the suffix, which must be one of `suffixes` (a name without one, or
    with another, is refused rather than silently extended); an existing directory is refused;
    a path that is one of `inputs` (the same file, however spelled) is refused.
    """
    path = Path(out)
    if path.is_dir():
        example = path / f"out{suffixes[0]}"
        raise CommandError(f"{option} {out}: is a directory; name a file in it, e.g. {example}")
    if path.suffix.lower() not in suffixes:
        raise CommandError(
            f"{option} {out}: the file name must end in {' or '.join(suffixes)}, which sets the "
            "format"
        )
    for source in inputs:
        source = Path(source)
        if path.resolve() == source.resolve() or (
            path.exists() and source.exists() and os.path.samefile(path, source)
        ):
            raise CommandError(f"{option} {out}: is the input {source}; refusing to overwrite it")
    return path


def coordinates_path(image: Path) -> Path:
    """Where `embed` writes the map's coordinates by default: ``MAP.coords.npz`` next to it."""
    return image.with_name(f"{image.stem}.coords.npz")


# --------------------------------------------------------------------------- commands


def cmd_compare(args) -> None:
    import jaxrsa

    out = output_path(args.out, COMPARE_SUFFIXES, inputs=[args.acts])
    acts = read_activations(args.acts)
    sim = jaxrsa.similarity_matrix(
        acts,
        measure=args.measure,
        block_size=args.block_size,
        memory_budget=args.memory_budget,
        progress=True,
    )
    names = np.array(list(acts))
    with _files.atomic_open(out) as f:
        if out.suffix.lower() == ".csv":
            np.savetxt(f, np.asarray(sim), delimiter=",", header=",".join(names), comments="")
        else:
            np.savez(f, similarity=np.asarray(sim), names=names, measure=np.array(args.measure))
    print(f"{len(names)} x {len(names)} {args.measure} similarity -> {out}")


def cmd_embed(args) -> None:
    import jax

    import jaxrsa
    from jaxrsa import plot
    from jaxrsa.plot._style import FIGURE_FORMATS

    out = output_path(args.out, tuple(f".{f}" for f in FIGURE_FORMATS), [args.matrix])
    coords = output_path(
        args.coords or coordinates_path(out), (".npz",), [args.matrix, out], option="--coords"
    )
    matrix, names, kind = read_matrix(args.matrix)
    dissim = jaxrsa.to_dissimilarity(matrix, args.method) if kind == "similarity" else matrix
    result = jaxrsa.mds(dissim, n_components=2, n_init=args.n_init, key=jax.random.key(args.seed))
    groups = groups_of(names, args.group_pattern)
    fig = plot.model_map(
        np.asarray(result.embedding),
        groups,
        names=names if len(names) <= 30 else None,
        title=f"{Path(args.matrix).name}: MDS (Kruskal stress-1 {float(result.stress_1):.3f})",
    )
    plot.save(fig, out)
    with _files.atomic_open(coords) as f:
        np.savez(f, embedding=np.asarray(result.embedding), names=np.array(names))
    print(f"map of {len(names)} models -> {out} (coordinates in {coords})")


def cmd_demo(args) -> None:
    from jaxrsa._demo import run_demo

    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise CommandError(
            f"--out {args.out}: exists and is not a folder (the demo writes a folder)"
        )
    config = DemoConfig(
        out=args.out,
        data=args.data,
        mlps=args.mlps,
        cnns=args.cnns,
        epochs=args.epochs,
        samples=args.samples,
        measure=args.measure,
        seed=args.seed,
    )
    run_demo(config)


# --------------------------------------------------------------------------- parser


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        return _inputs.seed("the seed", _whole_number(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _regex(text: str) -> re.Pattern:
    try:
        return re.compile(text)
    except re.error as e:
        raise argparse.ArgumentTypeError(f"not a valid regular expression {text!r} ({e})") from None


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (``jaxrsa demo: error: argument --seed: ...``), exit code 2."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {_one_line(message)} (see {self.prog} -h)\n")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def parser() -> argparse.ArgumentParser:
    from jaxrsa import measures

    p = _Parser(
        prog="jaxrsa",
        description="Compare neural networks by their representations (RSA, CKA, CCA, MDS).",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    d = sub.add_parser(
        "demo",
        help="train MLPs and CNNs on MNIST and map them by representational similarity",
        description="Train a zoo of MLPs and CNNs on MNIST, compare their representations of "
        "held-out digits at every epoch, and draw the model map, training trajectories, "
        "similarity heatmap, layer x layer similarity and example RDMs.",
    )
    demo = DemoConfig()  # the defaults
    d.add_argument("--out", default=demo.out, help="output folder (default: %(default)s)")
    d.add_argument(
        "--data",
        default=demo.data,
        help="embedded (5,000 real MNIST digits shipped with jaxrsa, default), mnist, "
        "fashion-mnist, or a folder holding MNIST-format IDX files",
    )
    for name, what in [("mlps", "MLPs"), ("cnns", "CNNs"), ("epochs", "training epochs")]:
        d.add_argument(
            f"--{name}",
            type=_positive_int,
            default=getattr(demo, name),
            help=f"{what} (default: %(default)s)",
        )
    d.add_argument(
        "--samples",
        type=_positive_int,
        default=demo.samples,
        help="held-out examples whose representations are compared (default: %(default)s)",
    )
    d.add_argument(
        "--measure", default=demo.measure, choices=measures.names(), help="default: %(default)s"
    )
    d.add_argument("--seed", type=_seed, default=demo.seed, help="default: %(default)s")
    d.set_defaults(run=cmd_demo)

    c = sub.add_parser(
        "compare",
        help="similarity matrix of your own activations",
        description="Compute the m x m similarity of models from their activations: an .npz "
        "with one [n, d_i] array per model (same n examples, same order), or a folder of .npy "
        "files (read memory-mapped).",
    )
    c.add_argument("acts", help="activations: .npz file or folder of .npy files")
    c.add_argument(
        "--measure", default="rsa", choices=measures.names(), help="default: %(default)s"
    )
    c.add_argument(
        "--out",
        required=True,
        help="output file: NAME.npz (similarity, names, measure) or NAME.csv",
    )
    c.add_argument("--block-size", type=_positive_int, default=None, help="models per block")
    c.add_argument(
        "--memory-budget", type=_positive_int, default=None, help="working memory in bytes"
    )
    c.set_defaults(run=cmd_compare)

    e = sub.add_parser(
        "embed",
        help="draw a 2-D MDS map of models from a similarity matrix",
        description="Embed models in 2-D with SMACOF MDS from an .npz written by `jaxrsa "
        "compare` (or a square .npy/.csv similarity matrix) and draw the map.",
    )
    e.add_argument("matrix", help=".npz from `jaxrsa compare`, or a square .npy/.csv")
    e.add_argument(
        "--out", required=True, help="output image: a file name ending in .png, .pdf or .svg"
    )
    e.add_argument(
        "--coords",
        default=None,
        help="where the coordinates go (.npz; default: next to the image, MAP.coords.npz)",
    )
    e.add_argument(
        "--method",
        default="angular",
        choices=("angular", "sqrt", "linear"),
        help="similarity -> dissimilarity: arccos(s), sqrt(2 - 2 s) or 1 - s "
        "(default: %(default)s)",
    )
    e.add_argument("--n-init", type=_positive_int, default=4, help="MDS restarts")
    e.add_argument("--seed", type=_seed, default=0, help="seed of the MDS restarts")
    e.add_argument(
        "--group-pattern",
        type=_regex,
        default=r"^[A-Za-z]+",
        help="regex whose first match in a model's name is its group (colour); "
        "default: the leading letters",
    )
    e.set_defaults(run=cmd_embed)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (CommandError, ValueError, TypeError, OSError) as e:
        if os.environ.get("JAXRSA_DEBUG"):
            raise
        print(f"jaxrsa {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
