"""mkdocs hooks: tables generated from the code, so the pages document what exists.

`<!-- cli-help -->` becomes the `--help` of the `jaxrsa` command and of each subcommand, read from
`jaxrsa.cli.parser()`.

A page line `<!-- measures-table -->` becomes one row per registry name: its class's one-line
definition and the exact object the name stands for, its direction and symmetry (read from the
object), its invariances (`INVARIANCES`), its minimum number of examples, whether all pairs are
one matrix product (`GramMeasure`), and its chance level where `docs/chance.json` records
one: the JSON lines of `python -m benchmarks.bench_chance > docs/chance.json` (mean ± standard
deviation over seeds of the measure between ReLU representations, examples shuffled, per size).
Without that file the chance column is left out and the page says so.
"""

import json
from pathlib import Path

MARKER = "<!-- measures-table -->"
CHANCE = Path(__file__).parent / "chance.json"


def _records(text: str) -> list[dict]:
    """`docs/chance.json`: a JSON list of records, or JSON lines (bench_chance's own output)."""
    text = text.strip()
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _chance() -> dict[str, str] | None:
    if not CHANCE.exists():
        return None
    cells: dict[str, list[str]] = {}
    for r in _records(CHANCE.read_text()):
        if r.get("benchmark", "chance") != "chance":
            continue
        if "chance" in r:
            cell = f"{r['chance']:.3f} ± {r.get('chance_std', 0.0):.3f}"
        else:
            cell = "undefined"  # the measure refused these sizes (e.g. CCA with n <= d)
        cells.setdefault(r["measure"], []).append(f"{cell} (n = {r['n']}, d = {r['d']})")
    return {k: "<br>".join(v) for k, v in cells.items()}


# Invariances that follow from each definition (those of the ReSi, netrep and platonic-rep
# measures are tested in tests/test_measures_more.py): O orthogonal maps, T translation, S
# isotropic scaling, E positive rescaling of each example, P permutation of features, L
# invertible linear maps. The correlation-metric RSA names are invariant to E, to shifting each
# example by a constant, and to P.
INVARIANCES = {
    "rsa": "O E P",
    "rsa_rowwise_cosine": "O E P",
    "rsa_rowwise_pearson": "O E P",
    **{
        k: "E P"
        for k in (
            "rsa_pearson",
            "rsa_spearman",
            "rsa_cosine",
            "rsa_kendall",
            "rsa_tau_a",
            "rsa_rho_a",
            "rsa_corr_cov",
            "rsa_cosine_cov",
            "rsa_bures",
        )
    },
    "cka": "O T S P",
    "cka_debiased": "O T S P",
    "cka_rbf": "O T S P",
    "cca": "O T S P L",
    "cca_r2": "O T S P L",
    "svcca": "O T S P",
    "pwcca": "O T S P",
    "procrustes": "O T S P",
    "mutual_knn": "O E P",
    "distance_correlation": "O T S P",
    "eigenspace_overlap_score": "O S P L",
    "linear_regression": "O T S P (of x), L (of y)",
    "gulp": "O T S P L",
    "jaccard_similarity": "O S P",
    "rank_similarity": "O S P",
    "second_order_cosine_similarity": "O S P",
    "rsm_norm_difference": "O T P",
    "magnitude_difference": "O P",
    "concentricity_difference": "O S P",
    "uniformity_difference": "O T P",
    "hard_correlation_match": "T S P",
    "soft_correlation_match": "T S P",
    "aligned_cosine_similarity": "O S P",
    "permutation_procrustes": "P",
    "orthogonal_angular_shape_metric_centered": "O T S P",
    "orthogonal_procrustes_centered_and_normalized": "O T S P",
    "procrustes_size_and_shape_distance": "O T P",
    "shape_metric": "O T S P",
    "permutation_metric": "T S P",
    "cknna": "O S P",
    "cycle_knn": "O S P",
    "ensd": "O T S P",
}


def _table() -> str:
    from jaxrsa import measures

    chance = _chance()
    head = ["name", "definition", "direction", "symmetric", "invariant to", "min n", "Gram-type"]
    if chance is not None:
        head.append("chance level")
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name in measures.names():
        m = measures.get(name)
        summary = (type(m).__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        cells = [
            f"`{name}`",
            f"{summary}<br>`{m!r}`".replace("|", "\\|"),
            "similarity" if m.larger_is_more_similar else "distance",
            "yes" if m.symmetric else "no",
            INVARIANCES.get(name, "-"),
            str(m.min_n),
            "yes" if isinstance(m, measures.GramMeasure) else "no",
        ]
        if chance is not None:
            cells.append(chance.get(name, "not measured"))
        rows.append("| " + " | ".join(cells) + " |")
    if chance is None:
        rows.append(
            "\nChance levels are not listed yet: `python -m benchmarks.bench_chance > "
            "docs/chance.json` measures them, and they appear here when the site is next built."
        )
    return "\n".join(rows)


def _cli_help() -> str:
    import argparse
    import os

    from jaxrsa import cli

    os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal; keep the page stable
    parser = cli.parser()
    parser.prog = "jaxrsa"
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    blocks = [("jaxrsa --help", parser.format_help())]
    blocks += [(f"jaxrsa {name} --help", p.format_help()) for name, p in sub.choices.items()]
    return "\n\n".join(f"### `{title}`\n\n```text\n{text.rstrip()}\n```" for title, text in blocks)


GENERATED = {MARKER: _table, "<!-- cli-help -->": _cli_help}


def on_page_markdown(markdown, page, config, files):
    for marker, make in GENERATED.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
