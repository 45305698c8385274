"""All pairs over every device of every host (or of this machine), same code either way.

One process per host, each started with the same arguments:

    python examples/multihost.py --coordinator HOST0:1234 --processes 2 --process-id 0  # host 0
    python examples/multihost.py --coordinator HOST0:1234 --processes 2 --process-id 1  # host 1

Without `--coordinator` it runs in this one process on all local devices; try it on a CPU with
`XLA_FLAGS=--xla_force_host_platform_device_count=4`. Every process passes the same activations
(here: generated from a seed; in practice memory-mapped from shared storage); jaxrsa splits the
blocks over `jax.devices()`, which spans all processes after `jax.distributed.initialize`, and
every process gets the whole matrix.
"""

import argparse

import jax
import numpy as np

import jaxrsa


def main(models: int = 16, examples: int = 200, measure: str = "rsa"):
    """The `[models, models]` similarity on all devices, and the same on the first device only."""
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(models, examples, 32)).astype(np.float32)
    everywhere = jaxrsa.similarity_matrix(acts, measure=measure)
    one = jaxrsa.similarity_matrix(acts, measure=measure, devices=jax.local_devices()[:1])
    return np.asarray(everywhere), np.asarray(one)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--coordinator", help="address:port of process 0 (omit for one process)")
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--process-id", type=int, default=0)
    a = p.parse_args()
    if a.coordinator:
        jax.distributed.initialize(a.coordinator, a.processes, a.process_id)
    everywhere, one = main()
    print(
        f"{jax.process_count()} process(es), {jax.device_count()} devices: "
        f"max difference from one device {np.abs(everywhere - one).max():.1e}"
    )
