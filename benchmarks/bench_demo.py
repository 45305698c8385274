"""The demo's wall time per stage (data, training, activations, similarity, MDS, figures).

    python -m benchmarks.bench_demo [--mlps 8 --cnns 8 --epochs 5 --samples 500]

Runs `jaxrsa demo` exactly as a user does (a fresh process, default configuration unless told
otherwise, a new output folder so nothing is resumed) and reports its stage times.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import emit, machine
from jaxrsa._demo import DemoConfig


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for option in ("mlps", "cnns", "epochs", "samples"):
        p.add_argument(f"--{option}", type=int, default=getattr(DemoConfig, option))
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        cmd = [sys.executable, "-m", "jaxrsa.cli", "demo", "--out", folder]
        for option in ("mlps", "cnns", "epochs", "samples"):
            cmd += [f"--{option}", str(getattr(args, option))]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        total = time.perf_counter() - start
        summary = json.loads((Path(folder) / "summary.json").read_text())
    emit(
        {
            "bench": "demo_stages",
            "models": args.mlps + args.cnns,
            "epochs": args.epochs,
            "samples": args.samples,
            "total_s": round(total, 1),
            "seconds": summary["seconds"],
            "within_family": round(summary["similarity"]["within"], 4),
            "between_family": round(summary["similarity"]["between"], 4),
            "load_1min": machine()["load_1min"],
        }
    )


if __name__ == "__main__":
    main()
