"""The `jaxrsa` command: `demo`, `compare` and `embed`.

Every error the user can fix (a bad option, path or file) ends with one line on stderr that
names the argument or the file, and exit code 2, never a traceback (set JAXRSA_DEBUG=1 to see
one). Every file is written atomically (`jaxrsa._files`), only at the path printed, and never
over an input.
"""

import argparse
import ast
import dataclasses
import os
import re
import sys
from pathlib import Path

import numpy as np

from jaxrsa import _files, _inputs, measures
from jaxrsa._demo import DemoConfig
from jaxrsa._formats import (
    MATRIX_SUFFIXES,
    CommandError,
    read_activations,
    read_matrix,
    write_matrix,
)

EXIT_USAGE = 2


# --------------------------------------------------------------------------- measures


def parse_measure(spec: str, options: list[str] = ()) -> tuple[measures.Measure, str]:
    """The measure named by `spec` (``NAME`` or ``NAME(OPTION=VALUE, ...)``) with `options`
    (``OPTION=VALUE`` strings) applied, and its label (``cca(max_dims=20)``).

    Options are the fields of the measure's class (`jaxrsa.measures`); values are Python
    literals (numbers, strings, True/False/None, tuples) or bare words, read with
    `ast.literal_eval`, never evaluated.

    Raises:
        CommandError: naming ``--measure`` or ``--option`` for an unknown measure, a malformed
            spec, an option the measure does not have (listing those it has) or a bad value.

    Examples:
        >>> from jaxrsa.cli import parse_measure
        >>> parse_measure("cca(max_dims=20)")
        (CCA(squared=False, max_dims=20), 'cca(max_dims=20)')
        >>> parse_measure("cka", ["kernel=rbf"])[1]
        "cka(kernel='rbf')"
    """
    match = re.fullmatch(r"\s*(?P<name>[A-Za-z_]\w*)\s*(?:\((?P<args>.*)\))?\s*", spec, re.S)
    if match is None or match["name"] not in measures.names():
        name = match["name"] if match else spec
        raise CommandError(
            f"--measure {spec}: invalid choice: {name!r} (choose from "
            f"{', '.join(measures.names())})"
        )
    name, given = match["name"], {}
    if match["args"] and match["args"].strip():
        given |= _keywords(f"--measure {spec}", match["args"])
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key.strip().isidentifier():
            raise CommandError(f"--option {option}: expected OPTION=VALUE, e.g. max_dims=20")
        given |= _keywords(f"--option {option}", f"{key.strip()}=({value})")
    measure = measures.get(name)
    fields = [f.name for f in dataclasses.fields(measure)]
    where = " ".join([f"--measure {spec}", *(f"--option {o}" for o in options)])
    for key in given:
        if key not in fields:
            valid = f"its options are {', '.join(fields)}" if fields else "it takes no options"
            raise CommandError(f"{where}: {name} has no option {key!r}; {valid}")
    try:
        measure = dataclasses.replace(measure, **given)
    except (TypeError, ValueError) as e:
        raise CommandError(f"{where}: {name}: {_one_line(e)}") from None
    label = f"{name}({', '.join(f'{k}={v!r}' for k, v in given.items())})" if given else name
    return measure, label


def _keywords(where: str, text: str) -> dict:
    """``a=1, b='x', c=word`` as a dict of literals (a bare word is a string)."""
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except SyntaxError:
        call = None
    if not isinstance(call, ast.Call) or call.args or any(k.arg is None for k in call.keywords):
        raise CommandError(f"{where}: expected OPTION=VALUE pairs separated by commas")
    values = {}
    for keyword in call.keywords:
        node = keyword.value
        try:
            values[keyword.arg] = node.id if isinstance(node, ast.Name) else ast.literal_eval(node)
        except ValueError:
            raise CommandError(
                f"{where}: {keyword.arg}={ast.unparse(node)} is not a literal value"
            ) from None
    return values


def groups_of(names: list[str], pattern: str | re.Pattern) -> list[str]:
    """The group of each model: the first match of `pattern` in its name (else the name)."""
    regex = re.compile(pattern)
    return [(m.group(0) if (m := regex.search(n)) else n) for n in names]


# --------------------------------------------------------------------------- writing files


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

    out = output_path(args.out, MATRIX_SUFFIXES, inputs=[args.acts])
    measure, label = parse_measure(args.measure, args.option)
    acts = read_activations(args.acts, flatten=args.flatten)
    sim = jaxrsa.similarity_matrix(
        acts,
        measure=measure,
        block_size=args.block_size,
        memory_budget=args.memory_budget,
        progress=sys.stderr.isatty(),
    )
    kind = "similarity" if measure.larger_is_more_similar else "dissimilarity"
    write_matrix(out, sim, list(acts), kind, label)
    print(f"{len(acts)} x {len(acts)} {label} {kind} -> {out}")


def cmd_embed(args) -> None:
    import jax

    import jaxrsa
    from jaxrsa import plot
    from jaxrsa.plot._style import FIGURE_FORMATS

    out = output_path(args.out, tuple(f".{f}" for f in FIGURE_FORMATS), [args.matrix])
    coords = output_path(
        args.coords or coordinates_path(out), (".npz",), [args.matrix, out], option="--coords"
    )
    matrix = read_matrix(args.matrix)
    kind = matrix.kind if args.kind == "auto" else args.kind
    values = matrix.values
    dissim = jaxrsa.to_dissimilarity(values, args.method) if kind == "similarity" else values
    result = jaxrsa.mds(
        dissim, n_components=args.dims, n_init=args.n_init, key=jax.random.key(args.seed)
    )
    names, points = matrix.names, np.asarray(result.embedding)
    what = matrix.measure or Path(args.matrix).name
    title = f"{what}: MDS (Kruskal stress-1 {float(result.stress_1):.3f})"
    labels = names if len(names) <= 30 else None
    groups = groups_of(names, args.group_pattern)
    if args.dims == 2:
        fig = plot.model_map(points, groups, names=labels, title=title)
    else:
        fig = _map_3d(points, groups, labels, title)
    plot.save(fig, out)
    with _files.atomic_open(coords) as f:
        np.savez(f, embedding=points, names=np.array(names), measure=np.array(what))
    print(f"{args.dims}-D map of {len(names)} models -> {out} (coordinates in {coords})")


def _map_3d(points: np.ndarray, groups: list[str], names: list[str] | None, title: str):
    """The models in 3-D, coloured and marked by group as `jaxrsa.plot.model_map` does."""
    from jaxrsa.plot._style import group_styles, new_figure

    fig = new_figure(6.4, 5.6)
    ax = fig.add_subplot(projection="3d")
    for group, style in group_styles(groups).items():
        sel = np.array([g == group for g in groups])
        ax.scatter(*points[sel].T, s=48, label=f"{group} ({sel.sum()})", depthshade=False, **style)
    for point, name in zip(points, names or (), strict=False):
        ax.text(*point, f" {name}", fontsize=7, color="0.3")
    for i, axis in enumerate("xyz"):
        getattr(ax, f"set_{axis}label")(f"MDS dimension {i + 1}")
    ax.set_aspect("equal")  # distances read true along every axis
    ax.set_title(title)
    ax.legend(loc="best", frameon=False, fontsize=9)
    return fig


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
        description="Compute the m x m similarity (or distance) of models from their "
        "activations of the same n examples in the same order: an .npz with one [n, d_i] array "
        "per model, an HDF5 file (.h5/.hdf5, needs h5py: one dataset per model, or one "
        "[m, n, d] dataset), or a folder of .npy (read memory-mapped) and .csv files (one model "
        "per file, a row per example, optional header row).",
    )
    c.add_argument("acts", help="activations: .npz, .h5/.hdf5, or a folder of .npy/.csv files")
    c.add_argument(
        "--measure",
        default="rsa",
        help="NAME or NAME(OPTION=VALUE, ...), e.g. 'cca(max_dims=20)'; NAME is one of "
        f"{', '.join(measures.names())} (default: %(default)s)",
    )
    c.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="OPTION=VALUE",
        help="an option of the measure (a field of its class in jaxrsa.measures), e.g. "
        "--option max_dims=20; repeatable",
    )
    c.add_argument(
        "--flatten",
        action="store_true",
        help="flatten each model's [n, ...] activations (e.g. conv maps [n, h, w, c]) to [n, -1]",
    )
    c.add_argument(
        "--out",
        required=True,
        help="output file: NAME.npz (similarity or dissimilarity, names, measure) or NAME.csv "
        "(labelled table); both read back by `jaxrsa embed`",
    )
    c.add_argument("--block-size", type=_positive_int, default=None, help="models per block")
    c.add_argument(
        "--memory-budget", type=_positive_int, default=None, help="working memory in bytes"
    )
    c.set_defaults(run=cmd_compare)

    e = sub.add_parser(
        "embed",
        help="draw a 2-D or 3-D MDS map of models from a similarity matrix",
        description="Embed models in 2-D or 3-D with SMACOF MDS from the .npz or .csv written "
        "by `jaxrsa compare` (or a square .npy/.csv matrix) and draw the map. A similarity is "
        "turned into a dissimilarity first (--method); a distance is embedded as it is.",
    )
    e.add_argument("matrix", help=".npz or .csv from `jaxrsa compare`, or a square .npy/.csv")
    e.add_argument(
        "--out", required=True, help="output image: a file name ending in .png, .pdf or .svg"
    )
    e.add_argument(
        "--coords",
        default=None,
        help="where the coordinates go (.npz; default: next to the image, MAP.coords.npz)",
    )
    e.add_argument("--dims", type=int, choices=(2, 3), default=2, help="default: %(default)s")
    e.add_argument(
        "--kind",
        default="auto",
        choices=("auto", "similarity", "dissimilarity"),
        help="what the matrix holds (default: what the file says; a plain matrix is a similarity)",
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
