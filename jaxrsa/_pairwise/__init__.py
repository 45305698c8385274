"""All pairs: the similarity of two models, and the m x m (or m x m_b) matrix, in blocks.

One concern per module:

- `_plan`: blocks, chunks and the order of block pairs, from shapes and byte counts alone;
- `_values`: the one place a model's activations become compute-dtype values (centred and
  rescaled in their own precision as the measure's invariances allow);
- `_layout`: how prepared models are laid out for the products, chosen once per measure, and
  the jitted prepare and block kernels;
- `_devices`: the mesh, host data as global arrays, results back to the host;
- `_features`: linear CKA from products of centred features (no n x n matrix);
- `_engine`: validation of shapes, the choice of path, and the driver;
- `_api`: `similarity` and `similarity_matrix`.
"""

from jaxrsa._pairwise._api import similarity as similarity
from jaxrsa._pairwise._api import similarity_matrix as similarity_matrix
