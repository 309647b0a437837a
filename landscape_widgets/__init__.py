"""Interactive loss landscapes of PyTorch networks in Jupyter."""

from ._landscape import STRATEGIES, Landscape, StrategyUnavailable
from ._planes import Line, Plane
from ._results import Profile, Surface
from ._weights import ParamLayout, as_vector, weights_of

__all__ = [
    "STRATEGIES",
    "Landscape",
    "Line",
    "ParamLayout",
    "Plane",
    "Profile",
    "StrategyUnavailable",
    "Surface",
    "as_vector",
    "weights_of",
]
__version__ = "0.1.0"
