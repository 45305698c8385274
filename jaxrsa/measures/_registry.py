"""Measures by name."""

from jaxrsa import _inputs
from jaxrsa.measures._base import Measure
from jaxrsa.measures._cca import CCA, SVCCA
from jaxrsa.measures._cka import CKA
from jaxrsa.measures._knn import MutualKNN
from jaxrsa.measures._procrustes import Procrustes
from jaxrsa.measures._pwcca import PWCCA
from jaxrsa.measures._rsa import RSA

_NAMED: dict[str, Measure] = {
    "rsa": RSA(first="cosine", second="rowwise_pearson"),
    "rsa_rowwise_cosine": RSA(first="cosine", second="rowwise_cosine", diagonal=True),
    "rsa_rowwise_pearson": RSA(first="cosine", second="rowwise_pearson", diagonal=True),
    "rsa_pearson": RSA(first="correlation", second="pearson"),
    "rsa_spearman": RSA(first="correlation", second="spearman"),
    "rsa_cosine": RSA(first="correlation", second="cosine"),
    "cka": CKA(kernel="linear"),
    "cka_debiased": CKA(kernel="linear", debiased=True),
    "cka_rbf": CKA(kernel="rbf", threshold=0.5),
    "cca": CCA(),
    "cca_r2": CCA(squared=True),
    "svcca": SVCCA(variance=0.99),
    "pwcca": PWCCA(side="x"),
    "procrustes": Procrustes(output="score"),
    "mutual_knn": MutualKNN(k=10),
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
