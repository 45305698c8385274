"""Measures by name."""

from jaxrsa import _inputs
from jaxrsa.measures._base import Measure
from jaxrsa.measures._cca import CCA, SVCCA
from jaxrsa.measures._cka import CKA
from jaxrsa.measures._kernel import ENSD, DistanceCorrelation, RSMNormDifference
from jaxrsa.measures._knn import MutualKNN
from jaxrsa.measures._matching import CorrelationMatch, PermutationMetric
from jaxrsa.measures._neighbours import (
    CKNNA,
    CycleKNN,
    JaccardSimilarity,
    RankSimilarity,
    SecondOrderCosineSimilarity,
)
from jaxrsa.measures._procrustes import Procrustes
from jaxrsa.measures._pwcca import PWCCA
from jaxrsa.measures._rsa import RSA
from jaxrsa.measures._shape import AlignedCosineSimilarity, ShapeMetric
from jaxrsa.measures._statistics import (
    ConcentricityDifference,
    MagnitudeDifference,
    UniformityDifference,
)
from jaxrsa.measures._subspace import GULP, EigenspaceOverlapScore, LinearRegression

_NAMED: dict[str, Measure] = {
    "rsa": RSA(first="cosine", second="rowwise_pearson"),
    "rsa_rowwise_cosine": RSA(first="cosine", second="rowwise_cosine", diagonal=True),
    "rsa_rowwise_pearson": RSA(first="cosine", second="rowwise_pearson", diagonal=True),
    "rsa_pearson": RSA(first="correlation", second="pearson"),
    "rsa_spearman": RSA(first="correlation", second="spearman"),
    "rsa_cosine": RSA(first="correlation", second="cosine"),
    # rsatoolbox's comparators on the same triangles
    "rsa_kendall": RSA(first="correlation", second="kendall"),
    "rsa_tau_a": RSA(first="correlation", second="tau_a"),
    "rsa_rho_a": RSA(first="correlation", second="rho_a"),
    "rsa_corr_cov": RSA(first="correlation", second="corr_cov"),
    "rsa_cosine_cov": RSA(first="correlation", second="cosine_cov"),
    "rsa_bures": RSA(first="correlation", second="bures"),
    "cka": CKA(kernel="linear"),
    "cka_debiased": CKA(kernel="linear", debiased=True),
    "cka_rbf": CKA(kernel="rbf", threshold=0.5),
    "cca": CCA(),
    "cca_r2": CCA(squared=True),
    "svcca": SVCCA(variance=0.99),
    "pwcca": PWCCA(side="x"),
    "procrustes": Procrustes(output="score"),
    "mutual_knn": MutualKNN(k=10),
    # ReSi (mklabunde/resi), netrep, platonic-rep and ENSD
    "distance_correlation": DistanceCorrelation(),
    "eigenspace_overlap_score": EigenspaceOverlapScore(denominator="width"),
    "linear_regression": LinearRegression(),
    "gulp": GULP(lmbda=0.0),
    "jaccard_similarity": JaccardSimilarity(k=10),
    "rank_similarity": RankSimilarity(k=10),
    "second_order_cosine_similarity": SecondOrderCosineSimilarity(k=10),
    "rsm_norm_difference": RSMNormDifference(norm="frobenius"),
    "magnitude_difference": MagnitudeDifference(),
    "concentricity_difference": ConcentricityDifference(),
    "uniformity_difference": UniformityDifference(t=2.0),
    "hard_correlation_match": CorrelationMatch(mode="hard"),
    "soft_correlation_match": CorrelationMatch(mode="soft"),
    "aligned_cosine_similarity": AlignedCosineSimilarity(),
    "permutation_procrustes": PermutationMetric(score="euclidean", center=False),
    "orthogonal_angular_shape_metric_centered": ShapeMetric(alpha=1.0, score="angular"),
    "orthogonal_procrustes_centered_and_normalized": ShapeMetric(
        alpha=1.0, score="euclidean", normalize=True
    ),
    "procrustes_size_and_shape_distance": ShapeMetric(alpha=1.0, score="euclidean"),
    "shape_metric": ShapeMetric(alpha=1.0, score="angular"),
    "permutation_metric": PermutationMetric(score="angular", center=True),
    "cknna": CKNNA(k=10),
    "cycle_knn": CycleKNN(k=10),
    "ensd": ENSD(),
}


def names() -> tuple[str, ...]:
    """The names `get` (and every `measure=` argument) accepts."""
    return tuple(_NAMED)


def get(measure: str | Measure) -> Measure:
    """A measure object from its name; a `Measure` instance is returned as it is."""
    if isinstance(measure, Measure):
        return measure
    if isinstance(measure, str):
        _inputs.check_choice("measure", measure, names())
        return _NAMED[measure]
    raise TypeError(
        f"measure must be a name ({', '.join(names())}) or a jaxrsa.measures.Measure, "
        f"got {type(measure).__name__}"
    )
