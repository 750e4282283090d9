"""Class-agnostic saliency: GrabCut targets from boxes, the foreground threshold, MB+ (§5.1, §6.1);
may import tfguided.data only."""
