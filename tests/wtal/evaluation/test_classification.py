"""Video-level classification AP on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from wtal.evaluation.classification import average_precision_per_class, classification_map


def test_hand_computed_average_precision():
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.9], [0.1, 0.3]])
    labels = np.array([[1, 0], [0, 0], [1, 0], [0, 1]])
    ap = average_precision_per_class(scores, labels)
    # class 0: positives at ranks 1 and 3 -> (1 + 2/3) / 2.  class 1: rank 2 -> 1/2.
    assert ap.tolist() == pytest.approx([(1 + 2 / 3) / 2, 0.5])
    assert classification_map(scores, labels) == pytest.approx(((1 + 2 / 3) / 2 + 0.5) / 2)


def test_classes_without_positives_are_left_out():
    scores = np.array([[0.9, 0.5], [0.1, 0.4]])
    labels = np.array([[1, 0], [0, 0]])
    ap = average_precision_per_class(scores, labels)
    assert ap[0] == 1.0 and np.isnan(ap[1])
    assert classification_map(scores, labels) == 1.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="videos x classes"):
        average_precision_per_class(np.zeros((2, 3)), np.zeros((3, 2)))
