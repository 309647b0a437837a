"""The pythreejs objects of the 3D surface (:class:`SurfaceScene`): the mesh's
buffers, the box with its axis labels, text sprites, point markers, draped lines
and the player that moves markers along stepped overlays. Where things go is
worked out in :mod:`.mesh3d`; :class:`~.surface3d.SurfaceWidget` decides what
to show.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pythreejs as p3

from ..output.png import format_tick
from ..wire.points import ROLE_COLORS
from .mesh3d import (
    HEIGHT,
    POINT_LIFT,
    POINT_RADIUS,
    Terrain,
    box_edges,
    camera_pose,
    look_at_quaternion,
    triangles,
)

#: Colour of text in the scene and of the legend.
INK = "#222222"
_FRAME_COLOR = "#777777"

# Advance widths (in em) of Arial / Liberation Sans, for sizing text sprites.
_EM = {**dict.fromkeys("0123456789e_", 0.556), ".": 0.278, " ": 0.278, "-": 0.333,
       "+": 0.584, "(": 0.333, ")": 0.333, "/": 0.278, ":": 0.278,
       **dict.fromkeys("ijlft", 0.25), **dict.fromkeys("mw", 0.833)}  # fmt: skip
_FONT_PX = 64  # TextTexture size: the canvas is FONT_PX + 2 high
_CAP = 0.72  # digit / capital height in em


def _text_em(text: str) -> float:
    return sum(_EM.get(c, 0.667 if c.isupper() else 0.5) for c in text)


def text_sprite(text: str, color: str) -> p3.Sprite:
    """A sprite showing ``text`` (size it with :func:`set_text`); drawn over everything."""
    texture = p3.TextTexture(string=text or " ", color=color, size=_FONT_PX, squareTexture=True)
    material = p3.SpriteMaterial(map=texture, transparent=True, depthTest=False)
    return p3.Sprite(material=material)


def set_text(sprite: p3.Sprite, text: str, height: float) -> float:
    """Set a sprite's text so digits are ``height`` scene units tall; return its width.

    TextTexture draws the text centred on a square canvas as wide as the text
    (at least FONT_PX + 2), so the sprite's scale follows the text's width.
    """
    sprite.material.map.string = text or " "
    unit = height / (_CAP * _FONT_PX)  # scene units per canvas pixel
    side = max(_text_em(text) * _FONT_PX + 2, _FONT_PX + 2)
    sprite.scale = (side * unit, side * unit, 1.0)
    return _text_em(text) * _FONT_PX * unit


class SurfaceMesh:
    """The surface's Mesh and BufferGeometry, kept for the widget's life.

    Updates give the BufferAttributes new arrays, so the front-end keeps its
    Mesh and only re-uploads buffers. A flat hidden 2 x 2 placeholder stands
    in until the first :meth:`update`.
    """

    def __init__(self) -> None:
        self.position = p3.BufferAttribute(array=np.zeros((4, 3), np.float32), normalized=False)
        self.normal = p3.BufferAttribute(
            array=np.tile(np.float32([0, 0, 1]), (4, 1)), normalized=False
        )
        self.color = p3.BufferAttribute(array=np.ones((4, 3), np.float32), normalized=False)
        self.index = p3.BufferAttribute(array=triangles(2, 2), normalized=False)
        self.geometry = p3.BufferGeometry(
            attributes={"position": self.position, "normal": self.normal, "color": self.color},
            index=self.index,
        )
        material = p3.MeshLambertMaterial(
            vertexColors="VertexColors",
            side="DoubleSide",
            polygonOffset=True,
            polygonOffsetFactor=1.0,
            polygonOffsetUnits=1.0,
        )
        self.mesh = p3.Mesh(
            geometry=self.geometry, material=material, visible=False, frustumCulled=False
        )

    def update(self, positions, normals, colors, shape: tuple[int, int] | None = None) -> None:
        """New vertex arrays (n, 3); with ``shape`` (ny, nx), a grid of another shape."""
        new = {self.position: positions, self.normal: normals, self.color: colors}
        index = None if shape is None else triangles(shape[1], shape[0])
        # Never let the index point past the vertices while the two travel.
        growing = len(positions) >= len(self.position.array)
        if index is not None and not growing:
            self.index.array = index
        for attr, arr in new.items():
            attr.array = arr
        if index is not None and growing:
            self.index.array = index


class BoxFrame:
    """The box's edges and its axis labels: names and end values of x, y and the metric."""

    #: The labels: an axis name, then its two end values.
    KEYS = ("x", "x0", "x1", "y", "y0", "y1", "z", "z0", "z1")
    _GAP = 0.08  # between the box and its labels
    _SIZE = 0.07  # height of digits

    def __init__(self) -> None:
        self.position = p3.BufferAttribute(array=np.zeros((24, 3), np.float32), normalized=False)
        self.edges = p3.LineSegments(
            geometry=p3.BufferGeometry(attributes={"position": self.position}),
            material=p3.LineBasicMaterial(color=_FRAME_COLOR),
            frustumCulled=False,
        )
        self.labels = {key: text_sprite("", INK) for key in self.KEYS}

    @property
    def objects(self) -> list:
        """The scene objects: the edges, then the labels."""
        return [self.edges, *self.labels.values()]

    def layout(
        self,
        half: tuple[float, float],
        name: str,
        x_ends: tuple[float, float] | None = None,
        y_ends: tuple[float, float] | None = None,
        value_range: tuple[float, float] | None = None,
        axis_names: tuple[str, str] = ("x", "y"),
    ) -> None:
        """Size the box to half-sides ``half``; label the height ``name``, the
        plane's axes ``axis_names``, and each axis with its end values (none
        where not given: no data yet)."""
        hx, hy = half
        self.position.array = box_edges(half)
        texts = {"x": axis_names[0], "y": axis_names[1], "z": name}
        for axis, ends in (("x", x_ends), ("y", y_ends), ("z", value_range)):
            lo, hi = ("", "") if ends is None else (format_tick(ends[0]), format_tick(ends[1]))
            texts[f"{axis}0"], texts[f"{axis}1"] = lo, hi
        m, size = self._GAP, self._SIZE
        half_w = {k: set_text(self.labels[k], texts[k], size) / 2 for k in self.KEYS}
        where = {
            "x": (0.0, -hy - m - 2.2 * size, 0.0),
            # end values inside their axis' span, and the first y value off the
            # front-right corner, where it ran into the last x value
            "x0": (-hx + half_w["x0"], -hy - m - size, 0.0),
            "x1": (hx - half_w["x1"], -hy - m - size, 0.0),
            "y": (hx + m + half_w["y"] + 0.15, 0.0, 0.0),
            "y0": (hx + m + half_w["y0"], -hy + 1.5 * size, 0.0),
            "y1": (hx + m + half_w["y1"], hy, 0.0),
            # the height's labels stand at the back-left corner, away from the x
            # labels (front) and the y labels (right), which they met at the front
            "z": (-hx - m - half_w["z"], hy, HEIGHT + 1.6 * size),
            "z0": (-hx - m - half_w["z0"], hy, 0.0),
            "z1": (-hx - m - half_w["z1"], hy, HEIGHT),
        }
        for key, pos in where.items():
            self.labels[key].position = pos


def _marker(sphere, outline, outline_material) -> dict:
    """A point marker: ``{"group", "material", "label"}``, a dark-rimmed sphere (its
    colour is ``material.color``) with a text label above it."""
    material = p3.MeshLambertMaterial(color="#ffffff")
    body = p3.Mesh(geometry=sphere, material=material)
    rim = p3.Mesh(geometry=outline, material=outline_material)
    label = text_sprite("", "#000000")
    label.position = (0.0, 0.0, POINT_RADIUS * 2.6)
    group = p3.Group(children=[rim, body, label])
    return {"group": group, "material": material, "label": label}


class SurfaceScene:
    """Every pythreejs object of a :class:`~.surface3d.SurfaceWidget`, and how each changes.

    The surface mesh, the box with its labels, the point markers, the lines
    draped on the terrain (overlays and paths), the markers moving along
    stepped overlays, the lights, an orbiting camera (z up) and the renderer.
    Objects are made once and then updated, so the page keeps them; the
    widget says what to show, with a :class:`~.mesh3d.Terrain` placing it.

    Parameters
    ----------
    width, height : int
        The canvas size in CSS pixels.
    half : tuple of float
        The box's half-sides, for the first camera position.
    """

    def __init__(self, width: int, height: int, half: tuple[float, float]) -> None:
        self.surface = SurfaceMesh()
        self.frame = BoxFrame()
        #: Point markers by name: ``{"group", "material", "label"}``.
        self.markers: dict[str, dict] = {}
        #: Draped lines by ``"overlay:<name>"`` / ``"path:<name>"``.
        self.lines: dict[str, p3.Line2] = {}
        self.marker_group, self.line_group, self.head_group = p3.Group(), p3.Group(), p3.Group()
        #: Plays the markers moving along stepped overlays (None without any).
        self.player: p3.AnimationAction | None = None
        self._heads: list[p3.Mesh] = []
        self._sphere = p3.SphereBufferGeometry(radius=POINT_RADIUS, widthSegments=16,
                                               heightSegments=12)  # fmt: skip
        self._outline = p3.SphereBufferGeometry(radius=POINT_RADIUS * 1.25, widthSegments=16,
                                                heightSegments=12)  # fmt: skip
        self._outline_material = p3.MeshBasicMaterial(color="#000000", side="BackSide")
        self.scene = p3.Scene(
            children=[
                self.surface.mesh,
                *self.frame.objects,
                self.marker_group,
                self.line_group,
                self.head_group,
                # No Directional/PointLight: with one in the scene, pythreejs 2.4 logs
                # "Error setting state: t.on is not a function" whenever a Line2 is made.
                p3.AmbientLight(color="#ffffff", intensity=0.45),
                p3.HemisphereLight(
                    color="#ffffff",
                    groundColor="#555555",
                    position=[0.3, -0.5, 1.0],
                    intensity=0.65,
                ),
            ],
            background="#ffffff",
        )
        self.camera = p3.PerspectiveCamera(
            up=[0.0, 0.0, 1.0], fov=40, aspect=width / height, near=0.01, far=100.0
        )
        self.controls = p3.OrbitControls(controlling=self.camera)
        self.aim(half)
        self.renderer = p3.Renderer(
            scene=self.scene,
            camera=self.camera,
            controls=[self.controls],
            width=width,
            height=height,
            antialias=True,
            background="#ffffff",
            clearColor="#ffffff",
        )

    def aim(self, half: tuple[float, float]) -> None:
        """Look at a box of half-sides ``half`` from the front right (:func:`.camera_pose`)."""
        eye, target = camera_pose(half)
        self.camera.position = tuple(float(v) for v in eye)
        self.camera.quaternion = look_at_quaternion(eye, target, (0, 0, 1))
        self.controls.target = tuple(float(v) for v in target)

    def resize(self, width: int, height: int) -> None:
        """A canvas of ``width`` x ``height`` CSS pixels."""
        self.renderer.width, self.renderer.height = width, height
        self.camera.aspect = width / height

    def place_markers(self, points: list[dict], terrain: Terrain | None) -> None:
        """One marker per point (checked points), coloured by role, on the terrain.

        Markers of points that stay are moved, not made again; without a
        terrain (no surface yet) they are hidden.
        """
        wanted = {p["name"]: p for p in points}
        for name in [n for n in self.markers if n not in wanted]:
            del self.markers[name]
        for name, p in wanted.items():
            marker = self.markers.get(name)
            if marker is None:
                marker = self.markers[name] = _marker(
                    self._sphere, self._outline, self._outline_material
                )
            marker["material"].color = ROLE_COLORS[p["role"]]
            set_text(marker["label"], p["label"], 0.06)
            if terrain is None:
                marker["group"].visible = False
                continue
            sx, sy = terrain.to_scene(p["x"], p["y"])
            z = float(terrain.height_at(p["x"], p["y"])) + POINT_LIFT
            marker["group"].position = (float(sx), float(sy), z)
            marker["group"].visible = True
        groups = tuple(self.markers[n]["group"] for n in wanted)
        if self.marker_group.children != groups:
            self.marker_group.children = groups

    def sync_lines(
        self, prefix: str, wanted: Mapping[str, tuple[np.ndarray, str]], terrain: Terrain | None
    ) -> None:
        """Make the lines whose keys start with ``prefix`` the ``wanted`` ones,
        ``{key: (plane xy (n, 2), colour)}``, draped on the terrain.

        Existing lines get new positions (no new objects); without a terrain
        (no surface yet) only the lines no longer wanted go.
        """
        for key in [k for k in self.lines if k.startswith(prefix) and k not in wanted]:
            del self.lines[key]
        if terrain is not None:
            for key, (xy, color) in wanted.items():
                positions = terrain.drape(xy)
                line = self.lines.get(key)
                if line is None:
                    self.lines[key] = p3.Line2(
                        p3.LineGeometry(positions=positions),
                        p3.LineMaterial(linewidth=3, color=color),
                        frustumCulled=False,
                    )
                else:
                    line.geometry.positions = positions
                    line.material.color = color
        children = tuple(self.lines.values())
        if self.line_group.children != children:
            self.line_group.children = children

    def play(
        self, stepped: list[dict], terrain: Terrain | None, seconds: float
    ) -> p3.AnimationAction | None:
        """Markers moving along the ``stepped`` overlays (``{"xy", "steps", "color"}``)
        in step time, all of them in ``seconds``; the new :attr:`player` (None when
        there is nothing to play).

        The keyframes live in the page (three.js AnimationMixer), so a saved
        notebook or an exported page replays them with no kernel. The player
        and markers this replaces are closed: they would otherwise live on in
        the kernel and the saved notebook.
        """
        self.head_group.children = ()
        if self.player is not None:
            clip, mixer = self.player.clip, self.player.mixer
            for w in (self.player, self.player.layout, clip, mixer, *clip.tracks, *self._heads,
                      *(h.material for h in self._heads)):  # fmt: skip
                w.close()
            self.player, self._heads = None, []
        if not stepped or terrain is None:
            return None
        first = min(float(o["steps"][0]) for o in stepped)
        span = (max(float(o["steps"][-1]) for o in stepped) - first) or 1.0
        tracks = []
        for k, o in enumerate(stepped):
            xy = o["xy"]
            sx, sy = terrain.to_scene(xy[:, 0], xy[:, 1])
            z = terrain.height_at(xy[:, 0], xy[:, 1]) + POINT_LIFT
            where = np.stack([sx, sy, z], axis=1).astype(np.float32)
            self._heads.append(
                p3.Mesh(
                    geometry=self._sphere,
                    material=p3.MeshLambertMaterial(color=o["color"]),
                    name=f"head{k}",
                    position=tuple(float(c) for c in where[-1]),
                )
            )
            times = (np.asarray(o["steps"], np.float64) - first) / span * seconds
            tracks.append(
                p3.VectorKeyframeTrack(
                    name=f"head{k}.position", times=times.astype(np.float32), values=where
                )
            )
        self.head_group.children = tuple(self._heads)
        self.player = p3.AnimationAction(
            mixer=p3.AnimationMixer(rootObject=self.head_group),
            clip=p3.AnimationClip(tracks=tracks, duration=float(seconds)),
            localRoot=self.head_group,
            loop="LoopOnce",
            clampWhenFinished=True,
        )
        return self.player
