"""Words: GloVe vectors, class-name words, VLC sentences and their vocabulary."""
