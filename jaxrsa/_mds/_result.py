"""The result of :func:`jaxrsa.mds`: a pytree of arrays, and the meaning of its status code."""

import enum
from typing import NamedTuple

from jaxtyping import Array, Bool, Float, Int


class MDSStatus(enum.IntEnum):
    """Why a SMACOF run stopped (the ``status`` field of :class:`MDSResult`).

    Attributes:
        CONVERGED: the decrease of stress in one iteration fell to ``eps`` times the sum of
            squared embedding distances or below.
        MAX_ITER: ``max_iter`` Guttman transforms were applied without converging.
        NONFINITE: the stress or the next configuration became NaN or infinite; the run
            keeps the configuration it had reached (non-finite only if the start was).
    """

    CONVERGED = 0
    MAX_ITER = 1
    NONFINITE = 2


class MDSResult(NamedTuple):
    """Best of the restarts of a SMACOF fit. With a batch of matrices every field gains a
    leading batch axis ``[b, ...]``.

    Attributes:
        embedding: ``[m, k]`` configuration of lowest stress.
        stress: raw stress of ``embedding``, the sum over pairs i < j of
            ``w_ij (d_ij - delta_ij)^2`` (``delta`` the disparities: the dissimilarities for
            metric MDS, their isotonic transform for non-metric MDS; ``w = 1`` unweighted).
        stress_1: Kruskal's stress-1, ``sqrt(stress / sum_{i<j} w_ij delta_ij^2)``; 0 when
            all disparities are 0.
        n_iter: Guttman transforms applied in the winning run.
        converged: whether the winning run met the ``eps`` criterion.
        status: :class:`MDSStatus` code of the winning run (int32).
        restart_stress: ``[n_runs]`` final raw stress of every run (``n_runs`` is ``n_init``,
            or 1 for an explicit initial configuration).
    """

    embedding: Float[Array, "*batch m k"]
    stress: Float[Array, "*batch"]
    stress_1: Float[Array, "*batch"]
    n_iter: Int[Array, "*batch"]
    converged: Bool[Array, "*batch"]
    status: Int[Array, "*batch"]
    restart_stress: Float[Array, "*batch runs"]
