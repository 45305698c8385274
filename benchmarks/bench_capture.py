"""`capture` against a hand-written forward that returns the same dict, in the same batches.

    python -m benchmarks.bench_capture [--n 10000 --batch-size 128 --repeats 3]
                                       [--channels 16 32 --dense 128]

The model is jaxrsa's `CNN` (default ``channels=(16, 32), dense=128``, random parameters); the
inputs are ``n`` uint8 images 28 x 28. The peer is what a user writes without `capture`: one
jitted function of the model's state and a batch that computes every layer with the model's own
submodules and returns the dict `capture` gives (flattened), run over the same fixed-size,
zero-padded batches and joined. Two cases: every layer (``layers="all"``: the named layers and
every submodule's output), and the penultimate layer alone.

One JSON line per case: ``capture_s`` and ``hand_s`` (minimum over repeats after a warm-up
that compiles), their ``ratio`` (the goal is <= 1.2), the number of layers and floats per
example, and the largest difference between the two results (they run the same operations).
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from benchmarks._common import best_time, emit, log, machine
from jaxrsa.models import CNN, capture, preprocess
from jaxrsa.models._layers import max_pool_2x2


def hand_forward(graphdef, state, images):
    """Every layer that `capture` records for a `CNN`, computed directly, ``[b, d]`` each."""
    model = nnx.merge(graphdef, state)
    x = preprocess(images)
    out = {"input": x}
    h = x[..., None]
    for i, block in enumerate(model.convs):
        conv = block.conv(h)
        h = max_pool_2x2(jax.nn.relu(conv))
        out[f"convs.{i}.conv"] = conv
        out[f"convs.{i}"] = out[f"conv_{i}"] = h
    h = h.reshape(len(x), -1)
    for i, block in enumerate(model.blocks):
        linear = block.linear(h)
        h = jax.nn.relu(linear)
        out[f"blocks.{i}.linear"] = linear
        out[f"blocks.{i}"] = out[f"dense_{i}"] = h
    out["penultimate"] = h
    out["head"] = out["logits"] = model.head(h)
    return {name: value.reshape(len(x), -1) for name, value in out.items()}


def hand_in_batches(forward, images: np.ndarray, batch_size: int) -> dict:
    """The loop a user writes: fixed-size batches (the last zero-padded), joined, padding cut."""
    n = len(images)
    chunks = []
    for start in range(0, n, batch_size):
        batch = images[start : start + batch_size]
        pad = batch_size - len(batch)
        if pad:
            batch = np.concatenate([batch, np.zeros((pad, *batch.shape[1:]), batch.dtype)])
        chunks.append(forward(batch))
    return {name: jnp.concatenate([c[name] for c in chunks])[:n] for name in chunks[0]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--channels", type=int, nargs="+", default=[16, 32])
    p.add_argument("--dense", type=int, nargs="*", default=[128])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()

    info = machine()
    model = CNN(tuple(args.channels), tuple(args.dense), rngs=nnx.Rngs(0))
    images = np.random.default_rng(0).integers(0, 256, (args.n, 28, 28), dtype=np.uint8)
    graphdef, state = nnx.split(model)
    every = tuple(jax.eval_shape(lambda s, x: hand_forward(graphdef, s, x), state, images[:1]))
    for case, layers in (("all", every), ("penultimate", ("penultimate",))):
        log(f"capture, {case} ...")

        @jax.jit
        def hand(state, batch, layers=layers):
            out = hand_forward(graphdef, state, batch)
            return {name: out[name] for name in layers}

        def run_hand(hand=hand):
            return hand_in_batches(lambda b: hand(state, b), images, args.batch_size)

        def run_capture(layers=None if case == "all" else list(layers)):
            return capture(model, images, layers, batch_size=args.batch_size)

        ours, theirs = run_capture(), run_hand()
        assert set(ours) == set(theirs) == set(layers), (sorted(ours), sorted(theirs))
        diff = max(float(jnp.max(jnp.abs(ours[k] - theirs[k]))) for k in layers)
        floats = int(sum(ours[k].shape[1] for k in layers))
        del ours, theirs
        capture_s = best_time(run_capture, args.repeats)
        hand_s = best_time(run_hand, args.repeats)
        emit(
            {
                "bench": "capture",
                "case": case,
                "model": f"CNN(channels={tuple(args.channels)}, dense={tuple(args.dense)})",
                "n": args.n,
                "batch_size": args.batch_size,
                "n_layers": len(layers),
                "floats_per_example": floats,
                "capture_s": round(capture_s, 4),
                "hand_s": round(hand_s, 4),
                "ratio": round(capture_s / hand_s, 3),
                "max_abs_diff": diff,
                "backend": info["backend"],
                "device": info["device"],
                "load_1min": machine()["load_1min"],
            }
        )


if __name__ == "__main__":
    main()
