"""Model families by name, for the zoo and for rebuilding a model from its checkpoint."""

from flax import nnx

from jaxrsa.models._base import Classifier
from jaxrsa.models._cnn import CNN
from jaxrsa.models._mlp import MLP

FAMILIES: dict[str, type[Classifier]] = {"mlp": MLP, "cnn": CNN}


def model_class(family: str) -> type[Classifier]:
    """The class of `family` ("mlp" or "cnn"), or a ValueError listing the families."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {family!r}")
    return FAMILIES[family]


def abstract_model(family: str, hyperparameters: dict) -> Classifier:
    """The model with shape-only parameters: its graphdef, layer names and canonical options."""
    cls = model_class(family)
    return nnx.eval_shape(lambda: cls(**hyperparameters, rngs=nnx.Rngs(0)))
