"""Interactive loss landscapes of PyTorch networks in Jupyter."""

from . import datasets, ensembles, hessian, models, schedules, sharpness
from .core.curve_trainer import CurveTrainer, curve_profile, segment_profile
from .core.curves import BezierCurve, PolyChain
from .core.landscape import STRATEGIES, Landscape, StrategyUnavailable
from .core.planes import Line, Plane
from .core.results import Profile, Surface
from .core.train import TrainResult, train
from .core.trajectory import PlanePath, Trajectory, record_trajectory
from .core.weights import ParamLayout, as_vector, weights_of
from .output.html import export_html
from .widgets.curve_training import CurveTrainingWidget
from .widgets.ensemble_plot import EnsemblePlot
from .widgets.explore import Explorer, explore
from .widgets.landscape_map import LandscapeWidget
from .widgets.profile_plot import LossCurve, ProfilePlot
from .widgets.surface3d import SurfaceWidget

__all__ = [
    "BezierCurve",
    "CurveTrainer",
    "CurveTrainingWidget",
    "EnsemblePlot",
    "PolyChain",
    "curve_profile",
    "segment_profile",
    "STRATEGIES",
    "Explorer",
    "Landscape",
    "LandscapeWidget",
    "Line",
    "LossCurve",
    "ParamLayout",
    "Plane",
    "PlanePath",
    "Profile",
    "ProfilePlot",
    "StrategyUnavailable",
    "Surface",
    "SurfaceWidget",
    "TrainResult",
    "Trajectory",
    "as_vector",
    "datasets",
    "explore",
    "hessian",
    "schedules",
    "sharpness",
    "ensembles",
    "export_html",
    "models",
    "record_trajectory",
    "train",
    "weights_of",
]
__version__ = "0.1.0"
