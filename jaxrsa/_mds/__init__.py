"""Multidimensional scaling: SMACOF, classical MDS, Procrustes alignment, conversions."""

from jaxrsa._mds._align import procrustes_align as procrustes_align
from jaxrsa._mds._classical import classical_mds as classical_mds
from jaxrsa._mds._convert import to_dissimilarity as to_dissimilarity
from jaxrsa._mds._mds import mds as mds
from jaxrsa._mds._result import MDSResult as MDSResult
from jaxrsa._mds._result import MDSStatus as MDSStatus

__all__ = [
    "MDSResult",
    "MDSStatus",
    "classical_mds",
    "mds",
    "procrustes_align",
    "to_dissimilarity",
]
