"""First-order metrics and kernels as objects, for `rdm`, `rsm` and `measures.RSA(first=...)`.

Each is a small frozen dataclass: its full `[n, n]` matrix for one model (`matrix`), for metrics
its strict upper triangle (`triangle`, `ordinal`), and the condition under which it is undefined
(`undefined_rows`, `explain`). Names map to these objects ("euclidean" -> `Euclidean()`, "rbf" ->
`RBF(threshold)`, ...). Subclass `Metric` or `Kernel` to add one.

Examples:
    >>> import numpy as np
    >>> import jaxrsa
    >>> from jaxrsa.first_order import Metric
    >>> class Cityblock(Metric):
    ...     name, degree = "cityblock", 1
    ...     def matrix(self, x):
    ...         return abs(x[:, None, :] - x[None, :, :]).sum(-1)
    >>> jaxrsa.rdm(np.array([[0.0, 0.0], [1.0, 2.0]]), Cityblock())
    Array([[0., 3.],
           [3., 0.]], dtype=float32)
"""

from jaxrsa._first_order import RBF as RBF
from jaxrsa._first_order import Correlation as Correlation
from jaxrsa._first_order import CorrelationDistance as CorrelationDistance
from jaxrsa._first_order import Cosine as Cosine
from jaxrsa._first_order import CosineDistance as CosineDistance
from jaxrsa._first_order import Dot as Dot
from jaxrsa._first_order import Euclidean as Euclidean
from jaxrsa._first_order import Kernel as Kernel
from jaxrsa._first_order import Metric as Metric
from jaxrsa._first_order import Precomputed as Precomputed
from jaxrsa._first_order import SqEuclidean as SqEuclidean

__all__ = [
    "RBF",
    "Correlation",
    "CorrelationDistance",
    "Cosine",
    "CosineDistance",
    "Dot",
    "Euclidean",
    "Kernel",
    "Metric",
    "Precomputed",
    "SqEuclidean",
]
