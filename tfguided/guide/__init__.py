"""Guide labellers (§5): seeds + saliency -> the segmenter's training labels (255 = ignore); may import
tfguided.data, seeds, saliency, crf and scoremaps, never configs or stages (plain arguments)."""
