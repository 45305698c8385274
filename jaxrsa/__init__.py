"""jaxrsa: compare neural networks by their representations, in JAX."""

from jaxrsa._version import __version__ as __version__

# first order and second order (foundation)
# >>> foundation exports
# embedding (MDS)
# >>> mds exports

__all__ = [
    "__version__",
]
