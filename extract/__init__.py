"""Feature extraction: video -> 25 fps frames -> TV-L1 flow -> I3D RGB and flow features.

This package never imports the WTAL model; its outputs are files the ``wtal.data`` readers
consume (``<video>/rgb.npy``, ``flow.npy``, ``meta.json``).
"""
