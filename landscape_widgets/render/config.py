"""The TOML file of a command-line render, checked field by field.

Example (every field but the first four has a default)::

    model = "mypackage.nets:resnet20"      # or "nets.py:resnet20": a factory, no arguments
    weights = ["run1/final.pt"]            # one: a random plane around it; three: the plane
                                           # through them
    data = "images"                        # a built-in data set, or "pkg.module:factory"
    store = "resnet20.zarr"
    data_options = { n = 2000, size = 32 } # keyword arguments of the data factory
    loss = "cross_entropy"                 # "mse", or "pkg.module:factory"
    subset = 1000                          # samples evaluated; "all" for every one
    resolution = 128                       # or [nx, ny]
    margin = 0.25                          # or bounds = [xmin, xmax, ymin, ymax]
    tile = 64
    scheduler = "tcp://10.0.0.5:8786"      # a Dask scheduler; absent: this machine
    workers = 2                            # without a scheduler: a pool of processes
    device = "cpu"
    dtype = "float32"
    bn = "keep"                            # or "recompute"
    strategy = "auto"
    normalization = "filter"               # the random plane's (one checkpoint)
    seed = 0
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
from torch import nn

from .. import datasets
from ..core.planes import Plane
from ..core.weights import load_checkpoint

__all__ = ["BUILTIN_DATA", "ConfigError", "RenderConfig"]

BUILTIN_DATA = ("spirals", "moons", "regression1d", "digits", "images")
LOSSES = {"cross_entropy": nn.CrossEntropyLoss, "mse": nn.MSELoss}
DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the field."""


def _kind(value) -> str:
    return {
        bool: "a boolean",
        int: "a whole number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


@dataclass
class RenderConfig:
    """A render's settings, read by :meth:`load`; see the module's docstring."""

    model: str
    weights: list[str]
    data: str
    store: str
    data_options: dict = field(default_factory=dict)
    loss: str = "cross_entropy"
    subset: int | str = 1000
    resolution: int | list[int] = 64
    bounds: list[float] | None = None
    margin: float | None = None
    tile: int = 64
    scheduler: str | None = None
    workers: int | None = None
    device: str = "cpu"
    dtype: str = "float32"
    bn: str = "keep"
    strategy: str = "auto"
    normalization: str = "filter"
    seed: int = 0
    base: Path = Path(".")  # the config file's folder: relative paths start there

    @classmethod
    def load(cls, path) -> RenderConfig:
        """Read and check a TOML file; a bad field raises :class:`ConfigError` naming it."""
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"no config file at {path}") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path} is not valid TOML: {err}") from None
        return cls.check(raw, path.parent)

    @classmethod
    def check(cls, raw: dict, base: Path = Path(".")) -> RenderConfig:
        known = {f.name for f in fields(cls)} - {"base"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"unknown config field(s) {unknown}; the fields are {sorted(known)}")
        for name in ("model", "weights", "data", "store"):
            if name not in raw:
                raise ConfigError(f"config field {name!r} is required")

        def want(name, ok, what):
            if name in raw and not ok(raw[name]):
                raise ConfigError(
                    f"config field {name!r} must be {what}, not {_kind(raw[name])} ({raw[name]!r})"
                )

        def whole(v):
            return isinstance(v, int) and not isinstance(v, bool)

        def number(v):
            return isinstance(v, (int, float)) and not isinstance(v, bool)

        for name in ("model", "data", "store", "loss", "device"):
            want(name, lambda v: isinstance(v, str) and v, "a non-empty string")
        want(
            "weights",
            lambda v: (
                isinstance(v, list) and len(v) in (1, 3) and all(isinstance(p, str) for p in v)
            ),
            "a list of one or three checkpoint paths",
        )
        want("data_options", lambda v: isinstance(v, dict), "a table of keyword arguments")
        want(
            "subset",
            lambda v: v == "all" or (whole(v) and v > 0),
            'a positive number of samples or "all"',
        )
        want(
            "resolution",
            lambda v: (
                (whole(v) and v >= 2)
                or (isinstance(v, list) and len(v) == 2 and all(whole(n) and n >= 2 for n in v))
            ),
            "a whole number >= 2 or [nx, ny]",
        )
        want(
            "bounds",
            lambda v: (
                isinstance(v, list)
                and len(v) == 4
                and all(map(number, v))
                and v[0] < v[1]
                and v[2] < v[3]
            ),
            "[xmin, xmax, ymin, ymax] with min < max",
        )
        want("margin", lambda v: number(v) and v >= 0, "a number >= 0")
        want("tile", lambda v: whole(v) and v >= 1, "a whole number of points >= 1")
        want("scheduler", lambda v: isinstance(v, str) and v, "a Dask scheduler address")
        want("workers", lambda v: whole(v) and v >= 1, "a whole number of processes >= 1")
        want("dtype", lambda v: v in DTYPES, f"one of {sorted(DTYPES)}")
        want("bn", lambda v: v in ("keep", "recompute"), '"keep" or "recompute"')
        want("strategy", lambda v: isinstance(v, str), "a strategy name")
        want(
            "normalization",
            lambda v: v in ("filter", "model", "none"),
            '"filter", "model" or "none"',
        )
        want("seed", whole, "a whole number")
        if "bounds" in raw and "margin" in raw:
            raise ConfigError("config fields 'bounds' and 'margin' exclude each other: give one")
        if "scheduler" in raw and "workers" in raw:
            raise ConfigError("config field 'workers' is for renders without a 'scheduler'")
        return cls(**raw, base=Path(base))

    # ----------------------------------------------------------- building it
    def path(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p

    def build_model(self) -> nn.Module:
        """The factory's model with the first checkpoint's weights and buffers loaded."""
        model = _factory(self, "model")()
        if not isinstance(model, nn.Module):
            raise ConfigError(
                f"config field 'model': {self.model} returned a "
                f"{type(model).__name__}, not an nn.Module"
            )
        self.load_into(model, self.weights[0])
        return model

    def load_into(self, model: nn.Module, checkpoint: str) -> nn.Module:
        path = self.path(checkpoint)
        try:
            state = load_checkpoint(path)  # weights_only=True
        except (FileNotFoundError, ValueError) as err:
            raise ConfigError(f"config field 'weights': {err}") from None
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise ConfigError(
                f"config field 'weights': {path} holds a {type(state).__name__}, not a state dict"
            )
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            first = str(err).strip().splitlines()
            raise ConfigError(
                f"config field 'weights': {path} is not a state dict of {self.model}'s "
                f"model: {' '.join(first[1:3]) or first[0]}"
            ) from None
        return model

    def build_data(self):
        """``(X, y)`` (or a Dataset) from a built-in name or a factory."""
        if self.data in BUILTIN_DATA:
            try:
                return getattr(datasets, self.data)(**self.data_options)
            except TypeError as err:
                raise ConfigError(f"config field 'data_options' for {self.data!r}: {err}") from None
        return _factory(self, "data")(**self.data_options)

    def build_loss(self) -> Callable:
        if self.loss in LOSSES:
            return LOSSES[self.loss]()
        return _factory(self, "loss")()

    def build_plane(self, model: nn.Module) -> Plane:
        if len(self.weights) == 1:
            norm = None if self.normalization == "none" else self.normalization
            return Plane.random(model, normalization=norm, seed=self.seed)
        others = [self.load_into(_factory(self, "model")(), w) for w in self.weights[1:]]
        names = tuple(Path(w).stem for w in self.weights)
        if len(set(names)) < 3:
            names = ("w1", "w2", "w3")
        return Plane.through(model, *others, model=model, names=names)


def _factory(cfg: RenderConfig, name: str) -> Callable:
    """The callable that ``"package.module:name"`` or ``"file.py:name"`` names."""
    spec = getattr(cfg, name)
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr:
        raise ConfigError(
            f"config field {name!r} must be 'package.module:factory' or "
            f"'file.py:factory', not {spec!r}"
        )
    try:
        if where.endswith(".py"):
            file = cfg.path(where)
            if not file.exists():
                raise ConfigError(f"config field {name!r}: no file {file}")
            # one module per file (a name, so that pickles of its classes can say where)
            tag = hashlib.sha1(str(file.resolve()).encode()).hexdigest()[:8]
            mod_name = f"_lw_config_{file.stem}_{tag}"
            module = sys.modules.get(mod_name)
            if module is None:
                loader_spec = importlib.util.spec_from_file_location(mod_name, file)
                module = importlib.util.module_from_spec(loader_spec)
                sys.modules[mod_name] = module
                loader_spec.loader.exec_module(module)
                _pickle_by_value(module)
        else:
            module = importlib.import_module(where)
    except ConfigError:
        raise
    except Exception as err:  # any error of the user's module while it imports
        raise ConfigError(
            f"config field {name!r}: cannot import {where!r} ({type(err).__name__}: {err})"
        ) from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"config field {name!r}: {where!r} has no callable {attr!r}")
    return fn


def _pickle_by_value(module) -> None:
    """Workers cannot import a module loaded from a file path: send its code with the job."""
    try:
        import cloudpickle  # deferred: optional, comes with the distributed extra
    except ImportError:
        return
    cloudpickle.register_pickle_by_value(module)
