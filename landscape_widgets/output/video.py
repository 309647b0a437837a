"""Animations as files: a list of PIL images written as an animated GIF or an H.264 MP4.

GIFs need nothing but Pillow. MP4s go through ffmpeg: the one the
``imageio-ffmpeg`` package brings when it is installed, else one on the PATH.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

__all__ = ["ffmpeg_executable", "write_gif", "write_mp4"]


def _target(path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def write_gif(images: Sequence, path, fps: float) -> Path:
    """Write ``images`` as an animated GIF that loops forever.

    Parameters
    ----------
    images : sequence of PIL.Image.Image
        The frames, all of one size.
    path : str or os.PathLike
        Where to write (its folder is made if missing).
    fps : float
        Frames per second (at most 50: GIF delays are whole centiseconds).

    Returns
    -------
    Path
        ``path``.
    """
    out = _target(path)
    duration = max(20, round(1000 / fps))
    images[0].save(
        out, save_all=True, append_images=images[1:], duration=duration, loop=0, optimize=False
    )
    return out


def ffmpeg_executable() -> str:
    """The ffmpeg to encode with: imageio-ffmpeg's, else one on the PATH.

    Raises
    ------
    RuntimeError
        When there is neither; the message says what to install.
    """
    try:
        # optional dependency, imported only when a video is written
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        pass
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise RuntimeError(
            "MP4 export needs ffmpeg: pip install imageio-ffmpeg (it brings its own), or put "
            "ffmpeg on the PATH. save_gif() works without it."
        )
    return exe


def write_mp4(images: Sequence, path, fps: float, exe: str | None = None) -> Path:
    """Write ``images`` as an H.264 MP4 (yuv420p, padded to even sizes) through ffmpeg.

    Parameters
    ----------
    images, path, fps
        As for :func:`write_gif` (any frame rate).
    exe : str, optional
        The ffmpeg executable; default :func:`ffmpeg_executable`.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    RuntimeError
        When there is no ffmpeg, or it fails (with the end of its message).
    """
    exe = exe or ffmpeg_executable()
    w, h = images[0].size
    out = _target(path)
    cmd = [
        exe, "-y", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps}", "-i", "-",
        "-c:v", "libx264", "-pix_fmt", "yuv420p",
        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
        str(out),
    ]  # fmt: skip
    proc = subprocess.run(
        cmd, input=b"".join(im.convert("RGB").tobytes() for im in images), capture_output=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.decode(errors='replace')[-400:]}")
    return out
