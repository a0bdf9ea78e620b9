"""The TV-L1 flow settings a command line offers: parameter presets and implementations.

Plain constants, no OpenCV, numpy or torch: ``wtal --help`` reads them for its choices, and
:mod:`extract.flow` uses these same definitions.
"""

from __future__ import annotations

from typing import Any

#: TV-L1 parameter sets. ``standard`` is OpenCV's defaults: the protocol of the published
#: features. ``fast`` trades accuracy for speed (measured in the README).
PRESETS: dict[str, dict[str, Any]] = {
    "standard": {},
    "fast": {"nscales": 3, "warps": 2, "innnerIterations": 15, "outerIterations": 5},
}
#: TV-L1 implementations: OpenCV on CPU threads, the PyTorch port, or torch on CUDA else OpenCV.
BACKENDS = ("opencv", "torch", "auto")
