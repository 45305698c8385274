"""Streaming over panels of example rows: when whole prepared vectors do not fit the budget, the
m x m matrix is the sum of panel products, equal to the whole computation."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrsa
from jaxrsa import _inputs, measures
from jaxrsa._pairwise import _engine, _plan
from tests.references import rsa_rowwise

STREAMING = {  # measure -> (kernel, comparison, diagonal) of the NumPy reference
    "rsa": ("cosine", "pearson", False),
    "rsa_rowwise_cosine": ("cosine", "cosine", True),
    measures.RSA(first="correlation", second="rowwise_cosine"): ("correlation", "cosine", False),
    measures.RSA(first="dot", diagonal=True): ("dot", "pearson", True),
}


def zoo(rng, n=37, widths=(4, 9, 4, 4)):
    return [rng.normal(size=(n, w)) + 0.3 for w in widths]


def plan_of(measure, reps, budget, others=None, block_size=None):
    b = None if others is None else _inputs.as_reps(others)
    return _engine.job(
        measures.get(measure), _inputs.as_reps(reps), b, block_size, budget, None, "float32"
    )


@pytest.mark.parametrize("measure", list(STREAMING), ids=str)
def test_prepare_rows_is_the_slice_of_prepare(rng, measure):
    m = measures.get(measure)
    x = jnp.asarray(rng.normal(size=(11, 3)))
    w = m.row_width(11)
    whole = np.asarray(m.prepare(x))
    rows = jax.jit(m.prepare_rows, static_argnums=2)  # start traced: one compilation per count
    for start in (0, 4, 8):
        got = np.asarray(rows(x, start, min(4, 11 - start)))
        want = whole[start * w : (start + len(got) // w) * w]  # up to the rounding of (S + S^T) / 2
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)


@pytest.mark.parametrize("measure", list(STREAMING), ids=str)
def test_streaming_equals_the_whole_computation_and_the_reference(rng, measure):
    reps = zoo(rng)
    budget = 30_000  # float64 prepared rows of 36 or 37 entries: panels of 7 rows
    job = plan_of(measure, reps, budget)
    assert job.panel is not None and 1 < job.panel < 37 and 37 % job.panel != 0
    whole = np.asarray(jaxrsa.similarity_matrix(reps, measure=measure))
    got = np.asarray(jaxrsa.similarity_matrix(reps, measure=measure, memory_budget=budget))
    np.testing.assert_allclose(got, whole, rtol=0, atol=1e-10)
    kernel, how, diagonal = STREAMING[measure]
    ref = [[rsa_rowwise(x, y, kernel, how, diagonal) for y in reps] for x in reps]
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)


def test_streaming_with_several_blocks_per_panel_and_a_cross_matrix(rng):
    reps = zoo(rng, widths=(4, 9, 4, 4, 9, 4))
    budget = 30_000
    job = plan_of("rsa", reps, budget, block_size=2)
    assert job.panel is not None and 37 % job.panel != 0
    assert len(job.plan.blocks) > 1  # several block pairs add up in every panel
    whole = np.asarray(jaxrsa.similarity_matrix(reps))
    got = np.asarray(jaxrsa.similarity_matrix(reps, memory_budget=budget, block_size=2))
    np.testing.assert_allclose(got, whole, rtol=0, atol=1e-10)
    cross_job = plan_of("rsa", reps[:3], budget, others=reps[3:])
    assert cross_job.panel is not None
    cross = np.asarray(jaxrsa.similarity_matrix(reps[:3], reps[3:], memory_budget=budget))
    np.testing.assert_allclose(cross, whole[:3, 3:], rtol=0, atol=1e-10)


def test_float32_streaming_keeps_the_dtype(rng):
    reps = [x.astype(np.float32) for x in zoo(rng)]
    got = jaxrsa.similarity_matrix(reps, memory_budget=15_000)
    assert got.dtype == jnp.float32
    whole = np.asarray(jaxrsa.similarity_matrix(reps))
    np.testing.assert_allclose(np.asarray(got), whole, rtol=0, atol=2e-6)


def test_progress_says_panels(rng, capsys):
    jaxrsa.similarity_matrix(zoo(rng, widths=(4, 4)), memory_budget=30_000, progress=True)
    assert "rsa (prepared vectors in 4 panels of 10 example rows)" in capsys.readouterr().err


def test_undefined_row_in_a_panel_names_the_model(rng):
    reps = zoo(rng, widths=(4, 4))
    reps[1][20] = 0.0  # zero norm: its cosine similarities are undefined
    with pytest.raises(ValueError, match=r"reps\[1\]: .*example 20 has zero norm"):
        jaxrsa.similarity_matrix(reps, memory_budget=30_000)


@pytest.mark.parametrize("name", ["cka_rbf", "rsa_pearson", "cka"])
def test_measures_with_global_statistics_name_the_limit(rng, name):
    reps = zoo(rng, widths=(4, 4))
    with pytest.raises(ValueError, match="cannot stream over panels of example rows"):
        jaxrsa.similarity_matrix(reps, measure=name, memory_budget=12_000, precision="bfloat16")


def test_budget_too_small_for_one_row(rng):
    with pytest.raises(ValueError, match=r"too small.*at least \d+.*one example row"):
        jaxrsa.similarity_matrix(zoo(rng, widths=(4, 4)), memory_budget=2_000)


# ------------------------------------------------------------------- the planner, on shapes


@pytest.mark.parametrize(
    "n, d, m, budget",
    [(20_000, 64, 8, 2 * 2**30), (20_000, 64, 300, 2**24), (50_000, 64, 8, 2**30)],
)
def test_panel_plan_respects_the_budget_and_is_the_largest(n, d, m, budget):
    reps = [jax.ShapeDtypeStruct((n, d), jnp.float32)] * m
    job = plan_of("rsa", reps, budget)
    r, plan = job.panel, job.plan

    def held(r, plan):  # the largest chunk being prepared plus the blocks held, in bytes
        per_row = (n - 1) * 4
        work = (-(-(6 * n * n + 2 * n * d) * r // n) + 2 * n * d) * 4
        chunk = max(plan.chunk_size.values()) * work
        return chunk + plan.capacity * max(len(b.indices) for b in plan.blocks) * r * per_row

    assert r is not None and held(r, plan) <= budget
    all_held = plan.capacity >= len(plan.blocks)
    assert all_held == (m == 8)  # 300 models of 20k rows, 80 kB a row each: not in 16 MiB
    bigger = plan_of("rsa", reps, budget * (r + 1) // r).panel  # more budget, more rows
    assert bigger is not None and bigger >= r


def test_panel_rows_prefers_holding_every_block():
    def plan_for(rows):  # 8 models of 100-byte rows; a chunk works on 1,000 bytes a row
        sizes = {(1000, 4): _plan.Sizes("s", 100 * rows, 1000 * rows)}
        return _plan.plan([[(1000, 4)] * 8], sizes, 100_000)

    rows, plan = _plan.panel_rows(1000, plan_for)
    assert plan.capacity >= len(plan.blocks)
    assert plan_for(rows + 1).capacity < len(plan_for(rows + 1).blocks)
    with pytest.raises(ValueError, match="too small"):
        _plan.panel_rows(1000, lambda rows: _plan.plan([[(1000, 4)] * 8], {
            (1000, 4): _plan.Sizes("s", 10**6 * rows, 10**6 * rows)}, 100_000))  # fmt: skip


# --------------------------------------------------------------- panels and devices compose

SCRIPT = textwrap.dedent(
    """
    import jax
    import numpy as np

    import jaxrsa

    assert jax.device_count() == 4, jax.devices()
    rng = np.random.default_rng(0)
    reps = [rng.normal(size=(37, w)).astype(np.float32) for w in [5, 5, 7, 5, 9]]
    one = np.asarray(jaxrsa.similarity_matrix(reps, devices=jax.devices()[:1]))
    many = np.asarray(jaxrsa.similarity_matrix(reps, memory_budget=12_000))
    np.testing.assert_allclose(many, one, rtol=0, atol=2e-6)
    print("ok")
    """
)


def test_panels_split_over_four_devices():
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]
