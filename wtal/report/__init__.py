"""Report figures: one video's timeline, precision-recall curves, per-class AP."""

from wtal.report.figures import (
    Instance,
    PrecisionRecallCurve,
    class_ap,
    plot_class_ap,
    plot_precision_recall,
    plot_timeline,
    precision_recall_points,
    top_detections_per_class,
    video_detections,
    video_instances,
)

__all__ = [
    "Instance",
    "PrecisionRecallCurve",
    "class_ap",
    "plot_class_ap",
    "plot_precision_recall",
    "plot_timeline",
    "precision_recall_points",
    "top_detections_per_class",
    "video_detections",
    "video_instances",
]
