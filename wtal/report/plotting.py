"""What every report figure shares: each is drawn on a :class:`matplotlib.figure.Figure`
with an Agg canvas attached explicitly, so pyplot is never imported, no backend is selected,
no global state is touched and nothing needs a display (matplotlib is imported inside the
functions, so importing the report modules stays cheap); each is written atomically as one
PNG."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wtal.utils.files import atomic_open

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 110


def new_figure(**kwargs: Any) -> Figure:
    """A figure with its own Agg canvas (no pyplot, no backend switch)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(**kwargs)
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``figure`` as PNG to ``path`` atomically (temporary file, then rename)."""
    target = Path(path)
    with atomic_open(target, "wb") as handle:
        figure.savefig(handle, format="png", dpi=DPI)
    return target


def class_colours(count: int) -> list[tuple[float, float, float, float]]:
    """``count`` distinct colours (tab10, or tab20 beyond ten)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if count <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(count)]
