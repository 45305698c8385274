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
from jaxrsa.measures._inner import InnerProductMeasure as InnerProductMeasure
from jaxrsa.measures._inner import StatisticDifference as StatisticDifference
from jaxrsa.measures._kernel import ENSD as ENSD
from jaxrsa.measures._kernel import DistanceCorrelation as DistanceCorrelation
from jaxrsa.measures._kernel import RSMNormDifference as RSMNormDifference
from jaxrsa.measures._knn import MutualKNN as MutualKNN
from jaxrsa.measures._matching import CorrelationMatch as CorrelationMatch
from jaxrsa.measures._matching import PermutationMetric as PermutationMetric
from jaxrsa.measures._neighbours import CKNNA as CKNNA
from jaxrsa.measures._neighbours import CycleKNN as CycleKNN
from jaxrsa.measures._neighbours import JaccardSimilarity as JaccardSimilarity
from jaxrsa.measures._neighbours import RankSimilarity as RankSimilarity
from jaxrsa.measures._neighbours import SecondOrderCosineSimilarity as SecondOrderCosineSimilarity
from jaxrsa.measures._procrustes import Procrustes as Procrustes
from jaxrsa.measures._pwcca import PWCCA as PWCCA
from jaxrsa.measures._registry import get as get
from jaxrsa.measures._registry import names as names
from jaxrsa.measures._rsa import RSA as RSA
from jaxrsa.measures._shape import AlignedCosineSimilarity as AlignedCosineSimilarity
from jaxrsa.measures._shape import ShapeMetric as ShapeMetric
from jaxrsa.measures._statistics import ConcentricityDifference as ConcentricityDifference
from jaxrsa.measures._statistics import MagnitudeDifference as MagnitudeDifference
from jaxrsa.measures._statistics import UniformityDifference as UniformityDifference
from jaxrsa.measures._subspace import GULP as GULP
from jaxrsa.measures._subspace import EigenspaceOverlapScore as EigenspaceOverlapScore
from jaxrsa.measures._subspace import LinearRegression as LinearRegression

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
    "InnerProductMeasure",
    "StatisticDifference",
    "DistanceCorrelation",
    "ENSD",
    "RSMNormDifference",
    "EigenspaceOverlapScore",
    "LinearRegression",
    "GULP",
    "MagnitudeDifference",
    "ConcentricityDifference",
    "UniformityDifference",
    "ShapeMetric",
    "AlignedCosineSimilarity",
    "PermutationMetric",
    "CorrelationMatch",
    "JaccardSimilarity",
    "RankSimilarity",
    "SecondOrderCosineSimilarity",
    "CKNNA",
    "CycleKNN",
]
