"""The benchmark suite: every benchmark, one results file and one markdown table per machine.

    python -m benchmarks [--quick] [--device cpu|gpu] [--name NAME] [--merge]
                         [--only rsa alignment mds training demo scaling devices precision huge
                                 inference grounding chance capture losses measures examples]

Each benchmark runs in its own process (`python -m benchmarks.<name>`) and prints JSON lines;
the suite collects them into `benchmarks/results/<name>.json` and `benchmarks/results/<name>.md`
(the table the README shows). `--device gpu` runs the same cases on an accelerator
(JAX_PLATFORMS=cuda) and fails when there is none. Times are minima over repeats after a
warm-up; every ratio is measured in the same run on the same data.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

# name -> (module, full arguments, quick arguments)
SUITE = {
    "rsa": ("bench_rsa", [], ["--m", "64", "--n", "500", "--d", "128"]),
    "alignment": ("bench_alignment", [], ["--m", "16", "--n", "1000"]),
    "mds": ("bench_mds", [], ["--sizes", "500", "--dtypes", "float32"]),
    "training": ("bench_training", [], ["--family", "mlp", "--epochs", "2"]),
    "demo": ("bench_demo", [], ["--mlps", "2", "--cnns", "2", "--epochs", "1"]),
    "scaling": ("bench_scaling", ["--budget", str(4 * 2**30)], ["--ms", "64", "256"]),
    "devices": (
        "bench_scaling",
        ["--devices", "4", "--ms", "1024", "--repeats", "2"],
        ["--devices", "4", "--ms", "256"],
    ),
    "precision": ("bench_precision", [], ["--models", "4", "--samples", "200"]),
    "huge": ("bench_scaling", ["--huge"], ["--huge"]),
    "inference": ("bench_inference", [], ["--replicates", "100"]),
    "grounding": ("bench_grounding", [], ["--seeds", "2", "--epochs", "1", "--samples", "300"]),
    "chance": ("bench_chance", [], ["--sizes", "200x64", "--seeds", "1"]),
    "capture": ("bench_capture", [], ["--n", "1000"]),
    "losses": ("bench_losses", [], ["--batch", "64"]),
    "measures": ("bench_measures", [], ["--m", "16", "--n", "300"]),
    "examples": ("bench_examples_scale", [], ["--tiny"]),
}
DEFAULT = ["rsa", "alignment", "mds", "training", "demo", "scaling", "devices", "precision"]


def machine_name(device: str) -> str:
    from benchmarks._common import machine

    info = machine()
    cpu = re.sub(r"[^a-z0-9]+", "-", info["cpu"].lower()).strip("-")
    kind = info["device"] if device == "gpu" else cpu
    return f"{device}-{re.sub(r'[^a-z0-9]+', '-', kind.lower()).strip('-')}-{info['cores']}core"


def run(name: str, quick: bool, device: str) -> list[dict]:
    module, full, short = SUITE[name]
    env = dict(os.environ)
    if device == "gpu":
        env["JAX_PLATFORMS"] = "cuda"
    cmd = [sys.executable, "-m", f"benchmarks.{module}", *(short if quick else full)]
    print(f"[{name}] {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env, check=False)
    records = []
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            record.setdefault("suite", name)
            records.append(record)
    if out.returncode != 0:
        records.append({"suite": name, "error": f"exit code {out.returncode}"})
    print(
        f"[{name}] {len(records)} lines in {time.perf_counter() - start:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    return records


def _fmt(x, digits=3) -> str:
    return "" if x is None else (f"{x:.{digits}g}" if isinstance(x, float) else str(x))


def table(records: list[dict]) -> str:
    """Markdown: each line a case, our time, the peer's, the ratio, the matmul-rate fraction."""
    order = list(SUITE)
    records = sorted(
        records, key=lambda r: order.index(r["suite"]) if r.get("suite") in order else 0
    )
    rows = [
        "| case | size | jaxrsa (s) | peer | peer (s) | speed-up | of matmul rate |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in records:
        bench = r.get("bench") or r.get("case")
        if bench in ("allpairs_vs_peer",):
            rows.append(
                f"| {r['measure']} | m={r['m']} n={r['n']} d={r['d']} | "
                f"{_fmt(r['jaxrsa_s'])} | {r['peer']} | {_fmt(r['peer_s'])} | "
                f"{_fmt(r['speedup'])}x | |"
            )
        elif bench == "allpairs":
            rows.append(
                f"| {r['measure']} products | m={r['m']} n={r['n']} | "
                f"{_fmt(r['products_s'])} | | | | {_fmt(r['matmul_fraction'])} |"
            )
        elif bench == "alignment_allpairs":
            rows.append(
                f"| {r['measure']} | m={r['m']} n={r['n']} d={'/'.join(map(str, r['widths']))} | "
                f"{_fmt(r['jaxrsa_s'])} | NumPy/SciPy loop | {_fmt(r['peer_s'])} | "
                f"{_fmt(r['speedup'])}x | |"
            )
        elif bench == "mds_vs_sklearn":
            rows.append(
                f"| MDS {r['dtype']} (stress-1 ratio {_fmt(r['stress_1_ratio'], 4)}) | "
                f"m={r['m']} | {_fmt(r['jaxrsa_s'])} | scikit-learn | "
                f"{_fmt(r['sklearn_s'])} | {_fmt(r['speedup'])}x | |"
            )
        elif bench == "scaling":
            extra = (
                f", {r['devices']} devices vs 1: {_fmt(r['speedup_vs_one_device'])}x"
                if "speedup_vs_one_device" in r
                else ""
            )
            extra += (
                f", {_fmt(r['ratio_to_predicted'])} of (m/1024)^2 x t(1024)"
                if "ratio_to_predicted" in r
                else ""
            )
            rows.append(
                f"| {r['measure']} scaling (peak {_fmt(r['peak_rss_gib'])} GiB{extra}) | "
                f"m={r['m']} n={r['n']} | {_fmt(r['seconds'])} | | | | |"
            )
        elif bench == "demo_stages":
            stages = ", ".join(f"{k} {v:.0f} s" for k, v in r["seconds"].items())
            rows.append(
                f"| demo ({stages}) | {r['models']} models | {_fmt(r['total_s'])} | | | | |"
            )
        elif bench == "precision":
            rows.append(
                f"| {r['measure']} in {r['precision']}: max abs error vs float64 "
                f"{r['max_abs_error']:.1e} | {r['models']} MNIST models, n={r['n']} "
                "| | | | | |"
            )
        elif "strategy" in r and r.get("strategy") == "vmap":
            rows.append(
                f"| train {r['family']} zoo, vmapped vs one by one | {r.get('n_models', '')} "
                f"models | {_fmt(r['train_s'])} | loop | "
                f"{_fmt(r['train_s'] * r['speedup_vs_loop_train_s'])} | "
                f"{_fmt(r['speedup_vs_loop_train_s'])}x | |"
            )
    return "\n".join(rows) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=list(SUITE), default=DEFAULT)
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--name", default=None, help="results file name (default: from the machine)")
    p.add_argument(
        "--merge", action="store_true", help="keep the other benchmarks' lines of the results file"
    )
    args = p.parse_args(argv)
    if args.device == "gpu":
        import jax

        if not any(d.platform == "gpu" for d in jax.devices()):
            sys.exit("--device gpu: JAX sees no GPU on this machine")
    name = args.name or machine_name(args.device) + ("-quick" if args.quick else "")
    records = [r for bench in args.only for r in run(bench, args.quick, args.device)]
    RESULTS.mkdir(exist_ok=True)
    if args.merge and (RESULTS / f"{name}.json").exists():
        old = json.loads((RESULTS / f"{name}.json").read_text())
        records = [r for r in old if r.get("suite") not in args.only] + records
    (RESULTS / f"{name}.json").write_text(json.dumps(records, indent=1) + "\n")
    (RESULTS / f"{name}.md").write_text(table(records))
    print(table(records))
    print(f"wrote {RESULTS / name}.json and .md", file=sys.stderr)


if __name__ == "__main__":
    main()
