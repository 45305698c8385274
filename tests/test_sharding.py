"""Several devices: sharded all-pairs equals one device (4 host CPU devices in a subprocess)."""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import jax
    import numpy as np

    import jaxrsa

    assert jax.device_count() == 4, jax.devices()
    rng = np.random.default_rng(0)
    reps = [rng.normal(size=(24, w)) for w in [5, 5, 5, 7, 7, 9, 5, 5, 5, 5, 5]]
    for name in ["rsa", "rsa_spearman", "cka", "cka_rbf", "cca", "pwcca", "mutual_knn"]:
        one = np.asarray(jaxrsa.similarity_matrix(reps, measure=name, devices=jax.devices()[:1]))
        for kwargs in [{}, {"block_size": 3}, {"memory_budget": 200_000}]:
            many = np.asarray(jaxrsa.similarity_matrix(reps, measure=name, **kwargs))
            # float32 (x64 off here); SVD-based pairs are batched differently per device
            np.testing.assert_allclose(many, one, rtol=0, atol=5e-6, err_msg=f"{name} {kwargs}")
        cross = np.asarray(jaxrsa.similarity_matrix(reps[:4], reps[4:], measure=name))
        np.testing.assert_allclose(cross, one[:4, 4:], rtol=0, atol=1e-6, err_msg=name)
    for name in ["rsa", "cka"]:
        one = np.asarray(jaxrsa.similarity_matrix(reps, measure=name, devices=jax.devices()[:1],
                                                  precision="bfloat16"))
        many = np.asarray(jaxrsa.similarity_matrix(reps, measure=name, precision="bfloat16"))
        np.testing.assert_allclose(many, one, rtol=0, atol=1e-6, err_msg=f"{name} bfloat16")
    print("ok")
    """
)


@pytest.mark.slow
def test_four_devices_equal_one():
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert out.stdout.strip().endswith("ok")
