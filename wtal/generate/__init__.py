"""Seeded synthetic datasets, upstream of extraction: the demo's untrimmed videos (``demo_*``:
plan, rendering, files) and a THUMOS14-shaped feature dataset (``synthetic_*``: plan,
features, files). They use the dataset model of ``wtal.data`` and nothing downstream of it."""
