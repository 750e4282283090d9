"""Evaluation: confusion matrices, IoU tables, guide supervision quality, seed PR curves, panels;
may import tfguided.data only."""
