"""Figures: model maps, training trajectories, similarity heatmaps, RDM panels.

Every function returns a matplotlib `Figure` (created without pyplot, so no display is needed);
`save(fig, path)` writes it atomically.
"""

from jaxrsa.plot._maps import model_map as model_map
from jaxrsa.plot._maps import trajectories as trajectories
from jaxrsa.plot._matrices import layer_heatmap as layer_heatmap
from jaxrsa.plot._matrices import rdm_panel as rdm_panel
from jaxrsa.plot._matrices import similarity_heatmap as similarity_heatmap
from jaxrsa.plot._style import save as save

__all__ = ["layer_heatmap", "model_map", "rdm_panel", "save", "similarity_heatmap", "trajectories"]
