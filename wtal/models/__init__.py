"""TSM + VLC (and the convolutional baseline): modules that take tensors, not datasets."""
