"""Second-order measures: how alike two models' representations of the same examples are.

Each measure is a frozen dataclass carrying its options, with `prepare(x)` (per model) and
`pair(px, py)` (per pair). Gram-type measures (`GramMeasure`) are inner products of unit feature
vectors, so all pairs are one blocked matrix product.
"""

from jaxrsa.measures._base import GramMeasure as GramMeasure
from jaxrsa.measures._base import Measure as Measure
from jaxrsa.measures._cca import CCA as CCA
from jaxrsa.measures._cca import SVCCA as SVCCA
from jaxrsa.measures._cka import CKA as CKA
from jaxrsa.measures._knn import MutualKNN as MutualKNN
from jaxrsa.measures._procrustes import Procrustes as Procrustes
from jaxrsa.measures._pwcca import PWCCA as PWCCA
from jaxrsa.measures._registry import get as get
from jaxrsa.measures._registry import names as names
from jaxrsa.measures._rsa import RSA as RSA

__all__ = [
    "CKA",
    "RSA",
    "GramMeasure",
    "Measure",
    "get",
    "names",
    "CCA",
    "SVCCA",
    "PWCCA",
    "Procrustes",
    "MutualKNN",
]
