"""From CAS and attention to scored temporal detections (METHOD 5)."""
