"""Training TSM + VLC: batches, the four-step update, checkpoints, selection."""
