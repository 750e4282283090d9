"""Guide labellers (§5): seeds + saliency -> the segmenter's training labels (255 = ignore)."""
