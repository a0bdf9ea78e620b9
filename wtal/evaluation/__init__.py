"""Evaluation: ActivityNet detection mAP (official semantics) and classification mAP.

The evaluator judges files and tables; it knows nothing about models.
"""

from wtal.evaluation.metrics import (
    DetectionMetrics,
    evaluate_detection,
    evaluate_files,
    format_markdown,
    format_table,
)
from wtal.evaluation.protocol import parse_tiou_thresholds
from wtal.evaluation.tables import (
    GroundTruth,
    Predictions,
    load_ground_truth,
    load_predictions,
    read_predictions,
)

__all__ = [
    "DetectionMetrics",
    "GroundTruth",
    "Predictions",
    "evaluate_detection",
    "evaluate_files",
    "format_markdown",
    "format_table",
    "load_ground_truth",
    "load_predictions",
    "parse_tiou_thresholds",
    "read_predictions",
]
