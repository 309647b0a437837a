"""Interactive loss landscapes of PyTorch networks in Jupyter."""

from . import datasets, ensembles, hessian, models, schedules, sharpness
from ._curve_trainer import CurveTrainer, curve_profile, segment_profile
from ._curve_training import CurveTrainingWidget
from ._curves import BezierCurve, PolyChain
from ._ensemble_plot import EnsemblePlot
from ._explore import Explorer, explore
from ._export import export_html
from ._landscape import STRATEGIES, Landscape, StrategyUnavailable
from ._planes import Line, Plane
from ._profile_plot import LossCurve, ProfilePlot
from ._results import Profile, Surface
from ._surface3d import SurfaceWidget
from ._train import TrainResult, train
from ._trajectory import PlanePath, Trajectory, record_trajectory
from ._weights import ParamLayout, as_vector, weights_of
from ._widget import LandscapeWidget

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
