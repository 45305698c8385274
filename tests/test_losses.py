"""Distillation losses: 1 - similarity, the teacher under stop_gradient, usable in jit/vmap/grad."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrsa
from jaxrsa import losses

LOSSES = {
    "rsa": losses.rsa,
    "cka": losses.cka,
    "cka_debiased": losses.cka_debiased,
    "procrustes": losses.procrustes,
}


def batch(rng, b=32):
    teacher = rng.normal(size=(b, 4, 3))  # a feature map: flattened per example
    student = np.tanh(teacher.reshape(b, -1) @ rng.normal(size=(12, 7))) + 0.3 * rng.normal(
        size=(b, 7)
    )
    return student, teacher


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_is_one_minus_similarity(rng, name):
    student, teacher = batch(rng)
    expected = 1.0 - float(jaxrsa.similarity(student, teacher.reshape(32, -1), name))
    assert float(LOSSES[name](student, teacher)) == pytest.approx(expected, abs=1e-12)
    assert float(LOSSES[name](teacher, teacher)) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("name", list(LOSSES))
def test_teacher_gets_no_gradient_and_student_does(rng, name):
    student, teacher = batch(rng)
    g_student, g_teacher = jax.jit(jax.grad(LOSSES[name], argnums=(0, 1)))(student, teacher)
    assert np.all(np.asarray(g_teacher) == 0.0)
    assert np.isfinite(g_student).all() and np.abs(g_student).max() > 1e-4


def test_rsa_loss_uses_the_default_rsa_measure(rng):
    student, teacher = batch(rng)
    flat = teacher.reshape(32, -1)
    default = jaxrsa.measures.get("rsa")
    assert float(losses.rsa(student, teacher)) == pytest.approx(1 - float(default(student, flat)))


def test_distance_measures_are_losses_as_they_are(rng):
    student, teacher = batch(rng)
    measure = jaxrsa.measures.Procrustes(output="angular")
    got = losses.representation_loss(student, teacher, measure)
    assert float(got) == pytest.approx(float(measure(student, teacher.reshape(32, -1))))


def test_gradient_descent_on_the_loss_reduces_it(rng):
    student, teacher = batch(rng)
    w = jnp.asarray(rng.normal(size=(7, 5)))
    loss = jax.jit(lambda w: losses.cka(jnp.tanh(student @ w), teacher))
    before = float(loss(w))
    for _ in range(20):
        w = w - 0.5 * jax.grad(loss)(w)
    assert float(loss(w)) < before - 0.01


def test_batched_over_students_with_vmap(rng):
    student, teacher = batch(rng)
    stacked = jnp.stack([student, 2 * student])
    got = jax.vmap(lambda s: losses.cka_debiased(s, teacher))(stacked)
    np.testing.assert_allclose(got, float(losses.cka_debiased(student, teacher)), atol=1e-12)


def test_rank_losses_refuse_gradients(rng):
    student, teacher = batch(rng)
    with pytest.raises(TypeError, match="not differentiable"):
        jax.grad(losses.representation_loss)(student, teacher, "rsa_spearman")


def test_bad_batches_raise_clear_errors(rng):
    student, teacher = batch(rng)
    with pytest.raises(ValueError, match="has 31 examples but x has 32"):
        losses.cka(student, teacher[:31])
    with pytest.raises(ValueError, match="at least 4 examples"):
        losses.cka_debiased(student[:3], teacher[:3])
