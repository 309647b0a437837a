"""Interactive loss landscapes of PyTorch networks in Jupyter.

The package is five layers; imports flow one way, from the top of this list
to the bottom, never back (``tests/test_architecture.py`` checks it on the
import graph, and ``docs/architecture.md`` draws it):

- ``widgets/``: the notebook widgets (anywidget, pythreejs, bqplot), one
  module per widget. They hold state and sync it; heavy work runs on their
  background threads, and the maths is the core's.
- ``render/``: tiled, resumable renders into Zarr stores, in process or on a
  process pool or Dask cluster, and the ``render``/``show`` commands.
- ``output/``: files without a browser: headless PNG, offline HTML, video.
- ``wire/``: what Python and the page agree on: the array codec, the one
  points/paths schema, the latest-request-wins job runner, shared tables.
- ``core/``: torch only, never a widget library: weights, planes, results,
  data handling, the ``Landscape`` evaluator and its engines, curves, the
  curve trainer, training and trajectories.

Beside them, the public modules ``datasets``, ``models``, ``hessian``,
``sharpness``, ``ensembles`` and ``schedules`` build on the core alone. This
module re-exports the public names; import them from here.
"""

from . import datasets, ensembles, hessian, models, schedules, sharpness
from .core.curve_trainer import CurveTrainer, curve_profile, segment_profile
from .core.curves import BezierCurve, PolyChain
from .core.engines import StrategyUnavailable
from .core.landscape import Landscape
from .core.planes import Line, Plane
from .core.results import Profile, Surface
from .core.strategies import STRATEGIES
from .core.train import TrainResult, train
from .core.trajectory import PlanePath, Trajectory, record_trajectory
from .core.weights import ParamLayout, as_vector, weights_of
from .output.html import export_html
from .render import RenderError, StoreMismatch, open_store
from .widgets.curve_training import CurveTrainingWidget
from .widgets.ensemble_plot import EnsemblePlot
from .widgets.explore import Explorer, explore
from .widgets.landscape_map import LandscapeWidget
from .widgets.linked_scales import link_color_range
from .widgets.loss_curve import LossCurve
from .widgets.profile_plot import ProfilePlot
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
    "link_color_range",
    "models",
    "open_store",
    "record_trajectory",
    "RenderError",
    "StoreMismatch",
    "train",
    "weights_of",
]
__version__ = "0.1.0"
