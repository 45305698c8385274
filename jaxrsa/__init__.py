"""jaxrsa: compare neural networks by their representations, in JAX.

First order: `rdm`, `rsm`. Second order: `similarity`, `similarity_matrix` with the measures in
`jaxrsa.measures`. Embedding: `mds`, `classical_mds`, `procrustes_align`, `to_dissimilarity`.
Subpackages `jaxrsa.data`, `jaxrsa.models` and `jaxrsa.plot` are imported on demand.
"""

from jaxrsa import first_order as first_order
from jaxrsa import losses as losses
from jaxrsa import measures as measures
from jaxrsa._first_order import rdm as rdm
from jaxrsa._first_order import rsm as rsm
from jaxrsa._inference import BootstrapResult as BootstrapResult
from jaxrsa._inference import PermutationResult as PermutationResult
from jaxrsa._inference import bootstrap as bootstrap
from jaxrsa._inference import permutation_test as permutation_test
from jaxrsa._labels import model_names as model_names
from jaxrsa._labels import to_dataframe as to_dataframe
from jaxrsa._labels import to_xarray as to_xarray
from jaxrsa._mds import MDSResult as MDSResult
from jaxrsa._mds import MDSStatus as MDSStatus
from jaxrsa._mds import classical_mds as classical_mds
from jaxrsa._mds import mds as mds
from jaxrsa._mds import procrustes_align as procrustes_align
from jaxrsa._mds import to_dissimilarity as to_dissimilarity
from jaxrsa._minibatch import minibatch_cka as minibatch_cka
from jaxrsa._pairwise import similarity as similarity
from jaxrsa._pairwise import similarity_matrix as similarity_matrix
from jaxrsa._version import __version__ as __version__

__all__ = [
    "BootstrapResult",
    "PermutationResult",
    "bootstrap",
    "permutation_test",
    "MDSResult",
    "MDSStatus",
    "__version__",
    "classical_mds",
    "first_order",
    "losses",
    "mds",
    "measures",
    "minibatch_cka",
    "model_names",
    "procrustes_align",
    "rdm",
    "rsm",
    "similarity",
    "similarity_matrix",
    "to_dataframe",
    "to_dissimilarity",
    "to_xarray",
]
