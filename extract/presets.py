"""The extraction protocol as constants: the one place where its numbers are written.

The published features (W-TALC -> CO2-Net -> the paper) decode at 25 fps, resize the short
side to 256, cut non-overlapping 16-frame segments, feed I3D a centre 224 crop and keep 1024
values per stream; TV-L1 flow is clipped to +-20 px. The settings' defaults
(:mod:`extract.settings`) are these numbers, and so is every stage. Plain constants, no
imports: ``wtal --help`` reads the choices here, and the workflow builds its DAG from them.
"""

from __future__ import annotations

from typing import Any

#: Frames per second of the decoded timeline.
FPS = 25.0
#: Frames per segment (one feature row), segments do not overlap: 0.64 s each.
SEGMENT_FRAMES = 16
#: The short side frames are resized to (pixels).
SHORT_SIDE = 256
#: The centre crop I3D reads (pixels).
CROP = 224
#: Values per stream and segment (I3D Mixed_5c, averaged over time and space).
FEATURE_DIM = 1024
#: Flow components are clipped to +-FLOW_BOUND pixels before their uint8 quantisation.
FLOW_BOUND = 20.0

#: TV-L1 parameter sets. ``standard`` is OpenCV's defaults: the protocol of the published
#: features. ``fast`` trades accuracy for speed (measured in docs/results.md).
PRESETS: dict[str, dict[str, Any]] = {
    "standard": {},
    "fast": {"nscales": 3, "warps": 2, "innnerIterations": 15, "outerIterations": 5},
}
#: TV-L1 implementations: OpenCV on CPU threads, the PyTorch port, or torch on CUDA else OpenCV.
BACKENDS = ("opencv", "torch", "auto")
#: What a variable-frame-rate video gets: resampled by timestamps, or refused.
VFR_POLICIES = ("resample", "error")
#: I3D precisions under torch.autocast (``none``: float32, the published protocol).
AUTOCASTS = ("none", "bf16", "fp16")
