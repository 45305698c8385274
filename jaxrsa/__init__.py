"""jaxrsa: compare neural networks by their representations, in JAX."""

# first order and second order (foundation)
# >>> foundation exports
from jaxrsa import measures as measures
from jaxrsa._first_order import rdm as rdm
from jaxrsa._first_order import rsm as rsm
from jaxrsa._pairwise import similarity as similarity
from jaxrsa._pairwise import similarity_matrix as similarity_matrix
from jaxrsa._version import __version__ as __version__

# embedding (MDS)
# >>> mds exports

__all__ = [
    "__version__",
    "measures",
    "rdm",
    "rsm",
    "similarity",
    "similarity_matrix",
]
