"""Evaluation: confusion matrices, IoU tables, guide supervision quality."""
