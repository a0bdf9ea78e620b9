"""From CAS and attention to scored temporal detections (docs/method.md §5)."""
