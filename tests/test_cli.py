"""The `jaxrsa` command: help, compare, embed, clear one-line errors, and the demo end to end."""

import json
import subprocess
import sys

import numpy as np
import pytest

import jaxrsa
from jaxrsa import cli


def run(*args):
    """Run the console command in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "jaxrsa.cli", *args], capture_output=True, text=True, timeout=600
    )


def test_help_for_every_command():
    for args in [["--help"], ["demo", "--help"], ["compare", "--help"], ["embed", "--help"]]:
        out = run(*args)
        assert out.returncode == 0, out.stderr
        assert "usage: jaxrsa" in out.stdout
    assert "--measure" in run("compare", "--help").stdout


@pytest.fixture
def acts(tmp_path, rng):
    base = rng.normal(size=(40, 6))
    models = {f"mlp{i}": np.tanh(base @ rng.normal(size=(6, 8 + i))) for i in range(3)}
    models |= {f"cnn{i}": np.maximum(base @ rng.normal(size=(6, 5)), 0) + 0.1 for i in range(2)}
    np.savez(tmp_path / "acts.npz", **models)
    return models


def test_compare_then_embed(tmp_path, acts):
    assert (
        cli.main(
            [
                "compare",
                str(tmp_path / "acts.npz"),
                "--measure",
                "cka",
                "--out",
                str(tmp_path / "sim.npz"),
            ]
        )
        == 0
    )
    with np.load(tmp_path / "sim.npz") as z:
        assert list(z["names"]) == list(acts)
        np.testing.assert_allclose(
            z["similarity"], np.asarray(jaxrsa.similarity_matrix(acts, measure="cka")), atol=1e-6
        )
    assert cli.main(["embed", str(tmp_path / "sim.npz"), "--out", str(tmp_path / "map.png")]) == 0
    assert (tmp_path / "map.png").stat().st_size > 10_000
    with np.load(tmp_path / "map.coords.npz") as z:
        assert z["embedding"].shape == (5, 2)


def test_compare_reads_a_folder_of_npy_and_writes_csv(tmp_path, acts):
    folder = tmp_path / "acts"
    folder.mkdir()
    for name, a in acts.items():
        np.save(folder / f"{name}.npy", a)
    assert cli.main(["compare", str(folder), "--out", str(tmp_path / "s.csv")]) == 0
    header = (tmp_path / "s.csv").read_text().splitlines()[0]
    assert header.split(",") == ["similarity (rsa)", *sorted(acts)]
    table = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1, usecols=range(1, 6))
    assert table.shape == (5, 5)


@pytest.mark.parametrize(
    "make, args, message",
    [
        (lambda p: None, ["compare", "{p}/missing.npz", "--out", "{p}/o.npz"], "no such file"),
        (
            lambda p: (p / "bad.npz").write_bytes(b"PK\x03\x04 not a zip"),
            ["compare", "{p}/bad.npz", "--out", "{p}/o.npz"],
            "not a readable .npz",
        ),
        (
            lambda p: np.savez(p / "r.npz", a=np.ones(5)),
            ["compare", "{p}/r.npz", "--out", "{p}/o.npz"],
            r"shape \(5,\); expected \[n, d\]",
        ),
        (
            lambda p: np.savez(p / "m.npz", a=np.ones((5, 2)), b=np.ones((6, 2))),
            ["compare", "{p}/m.npz", "--out", "{p}/o.npz"],
            "has 6 examples",
        ),
        (
            lambda p: (p / "empty").mkdir(),
            ["compare", "{p}/empty", "--out", "{p}/o.npz"],
            "holds no .npy or .csv files",
        ),
        (
            lambda p: np.save(p / "s.npy", np.ones((3, 4))),
            ["embed", "{p}/s.npy", "--out", "{p}/m.png"],
            "square matrix",
        ),
        (
            lambda p: np.savez(p / "x.npz", other=np.eye(3)),
            ["embed", "{p}/x.npz", "--out", "{p}/m.png"],
            "named 'similarity'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, make, args, message):
    make(tmp_path)
    out = run(*[a.format(p=tmp_path) for a in args])
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith("jaxrsa ")
    import re

    assert re.search(message, lines[0]), lines[0]


def test_bad_option_values_are_usage_errors():
    out = run("demo", "--mlps", "0")
    assert out.returncode == 2 and "positive" in out.stderr
    out = run("compare", "x.npz", "--out", "o.npz", "--measure", "nope")
    assert out.returncode == 2 and "invalid choice: 'nope'" in out.stderr
    assert "--measure nope" in out.stderr and "cka" in out.stderr  # the names to choose from


@pytest.mark.slow
def test_demo_end_to_end_tiny(tmp_path):
    """The whole pipeline on real embedded MNIST, tiny: every file, and families separate."""
    out = tmp_path / "demo"
    proc = run(
        "demo", "--out", str(out), "--mlps", "2", "--cnns", "2", "--epochs", "1", "--samples", "100"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in [
        "model_map.png",
        "trajectories.png",
        "similarity.png",
        "layers.png",
        "rdms.png",
        "results.npz",
        "summary.json",
    ]:
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["similarity"]["within"] > summary["similarity"]["between"]
    assert min(summary["test_accuracy"].values()) > 0.5  # clearly better than chance (0.1)
    with np.load(out / "results.npz") as z:
        assert z["similarity"].shape == (4, 4)
        assert z["trajectories"].shape == (4, 2, 2)
        assert z["similarity_all_epochs"].shape == (8, 8)
    assert "between families" in proc.stdout
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    # A sidecar that lost a metric is refused by name on the next run: one line, exit code 2.
    sidecar = out / "checkpoints" / "mlp" / "epoch_0001.json"
    meta = json.loads(sidecar.read_text())
    del meta["metrics"]["test_accuracy"]
    sidecar.write_text(json.dumps(meta))
    again = run(*proc.args[3:])
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1, again.stderr
    assert str(sidecar) in again.stderr and "corrupt" in again.stderr


@pytest.mark.slow
def test_demo_with_a_distance_measure_maps_distances_as_distances(tmp_path):
    """A distance (rsm_norm_difference, values in the hundreds) is embedded as it is, not read
    as a similarity: the map's distances follow the measure's, and the table says distance."""
    out = tmp_path / "demo"
    proc = run(
        "demo", "--out", str(out), "--mlps", "2", "--cnns", "2", "--epochs", "1",
        "--samples", "100", "--measure", "rsm_norm_difference",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "mean distance within families" in proc.stdout
    with np.load(out / "results.npz") as z:
        d, points = z["similarity"], z["embedding"]
    assert np.all(np.diag(d) == 0) and d.max() > 1.0  # a distance, not clipped to [-1, 1]
    upper = np.triu_indices(len(d), 1)
    mapped = np.linalg.norm(points[:, None] - points[None], axis=-1)[upper]
    assert np.corrcoef(mapped, d[upper])[0, 1] > 0.9
    assert (out / "model_map.png").stat().st_size > 0


# --------------------------------------------------------------------------- --out, atomic files


def one_line_error(capsys, args, *needles):
    """`jaxrsa ARGS` in this process: exit code 2, one line on stderr naming each of `needles`."""
    capsys.readouterr()
    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as e:  # argparse's usage errors
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("jaxrsa "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture
def sim(tmp_path, acts):
    path = tmp_path / "sim.npz"
    assert cli.main(["compare", str(tmp_path / "acts.npz"), "--out", str(path)]) == 0
    return path


def test_embed_never_writes_over_its_input(tmp_path, sim, capsys):
    before = sim.read_bytes()
    assert cli.main(["embed", str(sim), "--out", str(tmp_path / "sim.png")]) == 0
    printed = capsys.readouterr().out
    assert sim.read_bytes() == before
    assert str(tmp_path / "sim.png") in printed and str(tmp_path / "sim.coords.npz") in printed
    with np.load(tmp_path / "sim.coords.npz") as z:
        assert list(z["names"]) == [f"mlp{i}" for i in range(3)] + ["cnn0", "cnn1"]
    # The coordinates asked for at the input's path: refused, input untouched.
    args = ["embed", sim, "--out", tmp_path / "m.png", "--coords", sim]
    one_line_error(capsys, args, "--coords", "refusing to overwrite")
    assert sim.read_bytes() == before and not (tmp_path / "m.png").exists()


@pytest.mark.parametrize(
    "command, out, needle",
    [
        ("compare", "{p}", "is a directory"),  # an existing folder
        ("compare", "{p}/pipe", "must end in .npz or .csv"),  # no suffix: not silently .npz
        ("compare", "{p}/x.txt", "must end in .npz or .csv"),
        ("compare", "{p}/acts.npz", "is the input"),
        ("compare", "{p}/./acts.npz", "is the input"),  # the same file, spelled otherwise
        ("embed", "{p}", "is a directory"),
        ("embed", "{p}/map", "must end in .png or .pdf or .svg"),
        ("embed", "{p}/map.npz", "must end in .png or .pdf or .svg"),
    ],
)
def test_out_must_name_a_file_of_a_known_format(tmp_path, capsys, acts, command, out, needle):
    source = tmp_path / "acts.npz"
    if command == "embed":
        source = tmp_path / "s.npy"
        np.save(source, np.eye(4))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    one_line_error(capsys, [command, source, "--out", out.format(p=tmp_path)], "--out", needle)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing written


def test_compare_prints_exactly_the_path_it_writes(tmp_path, acts, capsys):
    out = tmp_path / "new" / "s.NPZ"
    assert cli.main(["compare", str(tmp_path / "acts.npz"), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"-> {out}")
    assert sorted(p.name for p in out.parent.iterdir()) == ["s.NPZ"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["demo", "--seed", "1e23"], "--seed"),
        (["demo", "--seed", str(10**23)], "--seed"),
        (["demo", "--seed", "-1"], "--seed"),
        (["embed", "m.npz", "--out", "m.png", "--seed", "1e23"], "--seed"),
        (["embed", "m.npz", "--out", "m.png", "--group-pattern", "(mlp"], "--group-pattern"),
        (["compare", "a.npz", "--out", "o.npz", "--block-size", "1.5"], "--block-size"),
        (["demo", "--mlps", "0"], "--mlps"),
        (["compare", "a.npz", "--out", "o.npz", "--measure", "nope"], "invalid choice"),
        (["demo", "--mlps", "1", "--cnns", "1"], "needs at least 3 models"),
        (["demo", "--measure", "mutual_knn", "--samples", "10"], "needs at least 11 examples"),
    ],
)
def test_bad_options_are_one_line_naming_the_argument(tmp_path, capsys, args, needle):
    args = [str(tmp_path / a) if a.endswith((".npz", ".png")) else a for a in args]
    if args[0] == "demo":
        args += ["--out", str(tmp_path / "demo")]
    one_line_error(capsys, args, needle)
    assert not (tmp_path / "demo" / "checkpoints").exists()  # refused before any training


def test_demo_checks_the_measure_before_training(tmp_path, monkeypatch):
    """--measure cca with fewer samples than a layer's width fails before the first step,
    naming the model and layer by their real names."""
    from jaxrsa import _demo

    monkeypatch.setattr(_demo, "FAMILIES", {"MLP": ("mlp", {"hidden": (64, 32)})})
    monkeypatch.setattr(
        "jaxrsa.models.train_zoo", lambda *a, **k: pytest.fail("trained before checking")
    )
    config = _demo.DemoConfig(
        out=str(tmp_path), mlps=3, cnns=0, samples=40, measure="cca", progress=False
    )
    with pytest.raises(ValueError, match=r"--measure cca --samples 40: reps\['mlp0 dense_0'\]"):
        _demo.run_demo(config)


def test_a_write_that_fails_keeps_the_old_file_and_no_temporary(tmp_path):
    from jaxrsa import _files

    path = tmp_path / "results.npz"
    path.write_bytes(b"the previous good file")
    with pytest.raises(RuntimeError), _files.atomic_open(path) as f:
        f.write(b"half a file")
        raise RuntimeError("killed")
    assert path.read_bytes() == b"the previous good file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.npz"]


def test_the_next_run_removes_temporary_files_of_a_killed_one(tmp_path):
    from jaxrsa import plot
    from jaxrsa._files import temporary_path

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    stale = [tmp_path / f".model_map.png.tmp-{dead}", tmp_path / f"trajectories.tmp-{dead}.png"]
    for p in stale:
        p.write_bytes(b"")  # what a kill mid-write leaves (0 bytes)
    live = temporary_path(tmp_path / "other.png")  # this process's own: kept
    live.write_bytes(b"")
    fig = plot.model_map(np.eye(3, 2), ["a", "b", "b"])
    plot.save(fig, tmp_path / "model_map.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "model_map.png"])


# --------------------------------------------------------------------------- formats, options


def main(args) -> int:
    """`jaxrsa ARGS` in this process (paths may be `Path`s)."""
    return cli.main([str(a) for a in args])


def linear_cka(x, y):
    """Linear CKA in float64 NumPy: ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)."""
    x, y = x - x.mean(0), y - y.mean(0)
    return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def write_activations(folder, models, form):
    """`models` in the activation format `form`; returns the path to give `compare`."""
    import h5py

    folder.mkdir(exist_ok=True)
    if form == "npz":
        np.savez(folder / "a.npz", **models)
        return folder / "a.npz"
    if form == "npz stack":  # one [m, n, d] array and its names
        np.savez(folder / "a.npz", acts=np.stack(list(models.values())), names=list(models))
        return folder / "a.npz"
    if form in ("npy", "csv"):
        for name, a in models.items():
            if form == "npy":
                np.save(folder / f"{name}.npy", a)
            else:  # a header row of feature names, then one row per example
                header = ",".join(f"f{j}" for j in range(a.shape[1]))
                np.savetxt(folder / f"{name}.csv", a, delimiter=",", header=header, comments="")
        return folder
    path = folder / "a.h5"
    with h5py.File(path, "w") as f:
        if form == "h5":  # one dataset per model, some inside groups
            for name, a in models.items():
                f.create_dataset(name if name.startswith("mlp") else f"conv/{name}", data=a)
        else:  # one [m, n, d] dataset, the models' names as its attribute
            f.create_dataset("acts", data=np.stack(list(models.values())))
            f["acts"].attrs["names"] = list(models)
    return path


@pytest.mark.parametrize("form", ["npz", "npz stack", "npy", "csv", "h5", "h5 stack"])
def test_compare_reads_every_activation_format(tmp_path, rng, form, capsys):
    base = rng.normal(size=(30, 4))
    models = {f"{f}{i}": base @ rng.normal(size=(4, 6)) for f in ("mlp", "cnn") for i in (0, 1)}
    source = write_activations(tmp_path / "in", models, form)
    assert main(["compare", source, "--measure", "cka", "--out", tmp_path / "s.npz"]) == 0
    names = {"h5": ["conv/cnn0", "conv/cnn1", "mlp0", "mlp1"]}.get(form, list(models))
    if form in ("npy", "csv"):
        names = sorted(models)
    with np.load(tmp_path / "s.npz") as z:
        assert list(z["names"]) == names and str(z["measure"]) == "cka"
        got = z["similarity"]
    expected = [
        [linear_cka(models[a.split("/")[-1]], models[b.split("/")[-1]]) for b in names]
        for a in names
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("out", ["s.npz", "s.csv"])
@pytest.mark.parametrize("measure", ["cka", "shape_metric"])
def test_compare_then_embed_round_trips_every_format_and_direction(
    tmp_path, acts, monkeypatch, out, measure
):
    """embed reads back what compare wrote: names, the measure (the title) and its direction
    (a similarity goes through to_dissimilarity, a distance is embedded as it is)."""
    from jaxrsa import plot

    assert (
        main(["compare", tmp_path / "acts.npz", "--measure", measure, "--out", tmp_path / out]) == 0
    )
    values = np.asarray(jaxrsa.similarity_matrix(acts, measure=measure))
    seen = {}
    mds, save = jaxrsa.mds, plot.save

    def recording_mds(dissim, **kwargs):
        seen["dissim"] = np.asarray(dissim)
        return mds(dissim, **kwargs)

    monkeypatch.setattr(jaxrsa, "mds", recording_mds)
    monkeypatch.setattr(plot, "save", lambda fig, p: seen.update(fig=fig) or save(fig, p))
    assert main(["embed", tmp_path / out, "--out", tmp_path / "map.svg"]) == 0
    if measure == "cka":  # a similarity: arccos, as the default --method says
        expected = np.arccos(np.clip((values + values.T) / 2, -1, 1))
        np.fill_diagonal(expected, 0.0)
    else:
        expected = values
    np.testing.assert_allclose(seen["dissim"], expected, atol=1e-7)
    assert seen["fig"].axes[0].get_title().startswith(f"{measure}: MDS")
    with np.load(tmp_path / "map.coords.npz") as z:
        assert list(z["names"]) == list(acts) and z["embedding"].shape == (5, 2)
        assert str(z["measure"]) == measure


def test_csv_values_are_the_shortest_decimals_that_read_back(tmp_path, acts):
    np.savez(tmp_path / "a32.npz", **{k: v.astype(np.float32) for k, v in acts.items()})
    assert main(["compare", tmp_path / "a32.npz", "--out", tmp_path / "s.csv"]) == 0
    expected = np.asarray(
        jaxrsa.similarity_matrix({k: v.astype(np.float32) for k, v in acts.items()})
    )
    assert expected.dtype == np.float32
    rows = (tmp_path / "s.csv").read_text().splitlines()
    cells = [row.split(",")[1:] for row in rows[1:]]
    assert max(len(c) for row in cells for c in row) <= 11  # 8 digits of float32, not %.18e
    np.testing.assert_array_equal(np.array(cells, dtype=np.float32), expected)
    assert rows[0] == "similarity (rsa)," + ",".join(acts)


def test_embed_reads_labelled_csvs_from_pandas_and_plain_ones(tmp_path):
    import pandas as pd

    s = np.array([[1.0, 0.8, 0.1], [0.8, 1.0, 0.2], [0.1, 0.2, 1.0]])
    names = ["mlp a", "mlp, b", "cnn"]  # a comma in a name is quoted
    pd.DataFrame(s, index=names, columns=names).to_csv(tmp_path / "pandas.csv")
    np.savetxt(tmp_path / "plain.csv", s, delimiter=",")
    np.savetxt(
        tmp_path / "old.csv", s, delimiter=",", header=",".join(["a", "b", "c"]), comments=""
    )  # as jaxrsa <= 0.1 wrote it
    for source, expected in [("pandas", names), ("plain", None), ("old", ["a", "b", "c"])]:
        assert (
            main(
                [
                    "embed",
                    tmp_path / f"{source}.csv",
                    "--out",
                    tmp_path / "m.png",
                    "--kind",
                    "similarity",
                ]
            )
            == 0
        )
        with np.load(tmp_path / "m.coords.npz") as z:
            assert list(z["names"]) == (expected or ["model 0", "model 1", "model 2"])


def test_embed_draws_3d(tmp_path, acts, monkeypatch):
    from jaxrsa import plot

    figures = []
    save = plot.save
    monkeypatch.setattr(plot, "save", lambda fig, p: figures.append(fig) or save(fig, p))
    assert (
        main(["compare", tmp_path / "acts.npz", "--measure", "cka", "--out", tmp_path / "s.csv"])
        == 0
    )
    assert main(["embed", tmp_path / "s.csv", "--out", tmp_path / "m.png", "--dims", "3"]) == 0
    with np.load(tmp_path / "m.coords.npz") as z:
        points = z["embedding"]
    assert points.shape == (5, 3) and np.ptp(points[:, 2]) > 0  # a real third dimension
    ax = figures[0].axes[0]
    assert ax.name == "3d" and ax.get_title().startswith("cka: MDS")
    assert (tmp_path / "m.png").stat().st_size > 10_000


def test_flatten_conv_maps(tmp_path, rng, capsys):
    maps = {f"cnn{i}": rng.normal(size=(12, 3, 2, 2 + i)) for i in range(3)}
    np.savez(tmp_path / "maps.npz", **maps)
    args = ["compare", tmp_path / "maps.npz", "--measure", "cka", "--out", tmp_path / "s.npz"]
    one_line_error(capsys, args, "'cnn0' has shape (12, 3, 2, 2)", "--flatten")
    assert main([*args, "--flatten"]) == 0
    flat = {k: v.reshape(12, -1) for k, v in maps.items()}
    with np.load(tmp_path / "s.npz") as z:
        np.testing.assert_allclose(
            z["similarity"][0, 1], linear_cka(flat["cnn0"], flat["cnn1"]), rtol=1e-10
        )


def test_measure_options_in_the_spec_or_as_option_flags(tmp_path, acts):
    expected = np.asarray(jaxrsa.similarity_matrix(acts, measure=jaxrsa.measures.CCA(max_dims=3)))
    for extra in (["--measure", "cca(max_dims=3)"], ["--measure", "cca", "--option", "max_dims=3"]):
        assert main(["compare", tmp_path / "acts.npz", *extra, "--out", tmp_path / "s.npz"]) == 0
        with np.load(tmp_path / "s.npz") as z:
            np.testing.assert_allclose(z["similarity"], expected, rtol=1e-12)
            assert str(z["measure"]) == "cca(max_dims=3)"
    # strings as quoted literals or bare words; a distance is written as a dissimilarity
    measure, label = cli.parse_measure("shape_metric(score='euclidean')", ["alpha=0.5"])
    assert measure == jaxrsa.measures.ShapeMetric(alpha=0.5, score="euclidean")
    assert label == "shape_metric(score='euclidean', alpha=0.5)"
    assert cli.parse_measure("cka", ["kernel=rbf", "threshold=0.8"])[0] == jaxrsa.measures.CKA(
        kernel="rbf", threshold=0.8
    )


@pytest.mark.parametrize(
    "extra, needles",
    [
        (
            ["--measure", "cca(maxdims=3)"],
            [
                "--measure cca(maxdims=3)",
                "no option 'maxdims'",
                "its options are squared, max_dims",
            ],
        ),
        (["--measure", "ensd", "--option", "k=3"], ["--option k=3", "ensd has no option 'k'"]),
        (["--measure", "cca(max_dims=__import__('os').getcwd())"], ["is not a literal value"]),
        (["--measure", "cca(3)"], ["expected OPTION=VALUE"]),
        (["--measure", "cca(max_dims=3"], ["invalid choice"]),
        (["--measure", "cca", "--option", "max_dims"], ["--option max_dims", "OPTION=VALUE"]),
        (
            ["--measure", "cca", "--option", "max_dims=0"],
            ["--option max_dims=0", "max_dims must be a positive"],
        ),
        (["--measure", "cka(kernel='poly')"], ["--measure cka(kernel='poly')", "kernel"]),
        (["--measure", "os.system"], ["invalid choice"]),
    ],
)
def test_bad_measure_options_are_one_line_errors(tmp_path, acts, capsys, extra, needles):
    args = ["compare", tmp_path / "acts.npz", *extra, "--out", tmp_path / "s.npz"]
    one_line_error(capsys, args, *needles)
    assert not (tmp_path / "s.npz").exists()


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda p: (p / "a.h5").write_bytes(b"not hdf5"), "not a readable HDF5 file"),
        (lambda p: np.savetxt(p / "a.csv", np.ones((4, 2)), delimiter=","), "holds one model"),
        (
            lambda p: np.savez(p / "a.npz", acts=np.ones((3, 5, 2)), names=["a", "b"]),
            "'names' must be 3 distinct names",
        ),
        (
            lambda p: np.savez(p / "a.npz", x=np.ones((5, 2)), y=np.array(["a"] * 5)),
            "'y' is not numeric",
        ),
        (
            lambda p: ((p / "f").mkdir(), (p / "f" / "m.csv").write_text("1,2\n3,4\n5\n")),
            "m.csv: line 3 is not a row of 2 numbers",
        ),
        (
            lambda p: ((p / "f").mkdir(), (p / "f" / "m.csv").write_text("a,b,c\n1,2\n")),
            "the header has 3 names for rows of 2",
        ),
    ],
)
def test_bad_activation_files_are_one_line_naming_the_file(tmp_path, capsys, make, needle):
    make(tmp_path)
    source = next(p for p in tmp_path.iterdir())
    one_line_error(capsys, ["compare", source, "--out", tmp_path / "s.npz"], str(source), needle)


def test_progress_counts_pairs_and_is_off_when_not_a_terminal(tmp_path, acts, capsys):
    assert main(["compare", tmp_path / "acts.npz", "--out", tmp_path / "s.npz"]) == 0
    assert capsys.readouterr().err == ""  # pytest's stderr is not a terminal
    jaxrsa.similarity_matrix(acts, measure="cka", block_size=2, progress=True)
    bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "15/15" in bar and "pair" in bar, bar  # 5 models: 15 pairs with the diagonal


def test_a_stack_without_names_and_hdf5_without_h5py(tmp_path, rng, capsys, monkeypatch):
    from jaxrsa._formats import read_activations

    np.savez(tmp_path / "stack.npz", acts=rng.normal(size=(3, 6, 2)))
    assert list(read_activations(tmp_path / "stack.npz")) == ["acts[0]", "acts[1]", "acts[2]"]
    (tmp_path / "a.h5").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "h5py", None)  # as if not installed
    one_line_error(
        capsys,
        ["compare", tmp_path / "a.h5", "--out", tmp_path / "s.npz"],
        "a.h5: reading HDF5 needs h5py",
        "jaxrsa[hdf5]",
    )
