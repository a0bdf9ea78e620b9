"""Weakly-supervised temporal action localization: datasets, TSM+VLC, inference, evaluation."""

__version__ = "0.1.0"
