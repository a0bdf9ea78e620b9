"""Datasets: one in-memory model and readers for the formats WTAL users have."""

from wtal.data.activitynet import read_activitynet, write_activitynet
from wtal.data.dataset import DataQuirk, Dataset, VideoRecord
from wtal.data.wtalc import read_wtalc

__all__ = [
    "DataQuirk",
    "Dataset",
    "VideoRecord",
    "read_activitynet",
    "read_wtalc",
    "write_activitynet",
]
