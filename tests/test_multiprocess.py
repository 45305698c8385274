"""Two processes on localhost (`jax.distributed` with gloo CPU collectives): every process gets
the one-device matrix, for a Gram-type, an alignment-type and a feature-space measure, and for
row-wise RSA streamed over panels of example rows."""

import os
import socket
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys

    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.config.update("jax_enable_x64", True)
    jax.distributed.initialize(f"localhost:{sys.argv[1]}", num_processes=2,
                               process_id=int(sys.argv[2]))
    import numpy as np

    import jaxrsa

    assert jax.process_count() == 2 and jax.device_count() == 4, jax.devices()
    rng = np.random.default_rng(0)
    reps = [rng.normal(size=(24, w)) for w in [5, 5, 7, 7, 9, 5, 5]]
    local = jax.local_devices()[:1]
    for name in ["rsa", "cca", "cka"]:
        one = np.asarray(jaxrsa.similarity_matrix(reps, measure=name, devices=local))
        streamed = [{"memory_budget": 24_000}] if name == "rsa" else []  # panels of 7 rows
        for kwargs in [{}, {"block_size": 2}, *streamed]:
            many = np.asarray(jaxrsa.similarity_matrix(reps, measure=name, **kwargs))
            np.testing.assert_allclose(many, one, rtol=0, atol=1e-12, err_msg=f"{name} {kwargs}")
    print("ok", jax.process_index())
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_equal_one_device():
    env = os.environ | {
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
    }
    port = str(free_port())
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, port, str(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=600))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for i, (p, (out, err)) in enumerate(zip(procs, outs, strict=True)):
        assert p.returncode == 0, f"process {i}:\n{err[-4000:]}"
        assert out.strip().endswith(f"ok {i}")
