"""Class-agnostic saliency: GrabCut training targets from boxes, and the foreground threshold (§5.1, §6.1)."""
