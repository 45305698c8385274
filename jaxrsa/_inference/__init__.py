"""Inference on similarities: permutation nulls and bootstrap intervals for every pair."""

from jaxrsa._inference._bootstrap import BootstrapResult as BootstrapResult
from jaxrsa._inference._bootstrap import bootstrap as bootstrap
from jaxrsa._inference._permutation import PermutationResult as PermutationResult
from jaxrsa._inference._permutation import permutation_test as permutation_test

__all__ = ["BootstrapResult", "PermutationResult", "bootstrap", "permutation_test"]
