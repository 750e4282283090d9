"""Seed quality (§4.2, Table 1, Figure 3): precision-recall curves over the threshold tau, and mP.

A seeder gives each image normalised class maps for its ground-truth labels. At threshold tau a
pixel is foreground of the argmax class if its best map is >= tau, else background (the seed
rule). Foreground precision and recall are computed per class over the whole set and averaged
over the classes ("the mean precision and recall over the 20 Pascal categories"): recall over
the classes present in the ground truth, precision over those the seeder predicts at that tau
(precision is undefined for a class with no predicted pixel). Background precision and recall
are over all background pixels. Void (255) pixels are skipped.
mP = (fg precision at 20% recall + bg precision at 80% recall) / 2.
"""

import numpy as np

from tfguided.data.labelmap import IGNORE

# 0, then log-spaced up to 0.01 (smoothed or CRF-refined maps put most pixels there), then
# 0.01 .. 1 in steps of 0.01.
THRESHOLDS = np.concatenate([[0.0], np.logspace(-6, -2, 25)[:-1], np.linspace(0.01, 1.0, 100)])


def _count_at_or_above(hist):
    """hist [..., T] by threshold bin -> [..., T]: entry k = count with score >= threshold k."""
    return np.cumsum(hist[..., ::-1], axis=-1)[..., ::-1]


class SeedPR:
    """Accumulates, per threshold bin, the pixel counts behind the fg/bg precision-recall curves."""

    def __init__(self, num_classes, thresholds=THRESHOLDS):
        self.thresholds = np.asarray(thresholds, np.float32)
        n = len(self.thresholds)
        self.pred = np.zeros((num_classes + 1, n), np.int64)   # argmax class c, by bin
        self.hit = np.zeros((num_classes + 1, n), np.int64)    # ... and ground truth c
        self.gt_fg = np.zeros(num_classes + 1, np.int64)
        self.gt_bg = np.zeros(n, np.int64)                     # ground-truth bg, by bin
        self.valid = np.zeros(n, np.int64)                     # all non-void, by bin

    def add(self, maps, labels, gt):
        """maps [H, W, L] normalised to max 1 for `labels` (L classes), gt uint8 [H, W]."""
        if not np.all(np.isfinite(maps)):
            raise ValueError("seed maps contain NaN or infinite values")
        valid = gt != IGNORE
        gt = gt[valid].astype(np.int64)
        if len(labels):
            score = maps.max(axis=-1)[valid]
            cls = np.asarray(labels, np.int64)[maps.argmax(axis=-1)[valid]]
        else:
            score, cls = np.zeros(gt.shape, np.float32), np.zeros(gt.shape, np.int64)
        n = len(self.thresholds)
        bins = np.clip(np.searchsorted(self.thresholds, score.astype(np.float32), side="right") - 1, 0, n - 1)
        for c in np.unique(cls) if len(labels) else []:
            sel = cls == c
            self.pred[c] += np.bincount(bins[sel], minlength=n)
            self.hit[c] += np.bincount(bins[sel & (gt == c)], minlength=n)
        self.gt_fg += np.bincount(gt[gt > 0], minlength=len(self.gt_fg))[:len(self.gt_fg)]
        self.gt_bg += np.bincount(bins[gt == 0], minlength=n)
        self.valid += np.bincount(bins, minlength=n)

    COUNTS = ("pred", "hit", "gt_fg", "gt_bg", "valid")

    def to_json(self):
        """The accumulated pixel counts as JSON (a task's share, stages/parts.py)."""
        return {name: getattr(self, name).tolist() for name in self.COUNTS}

    @classmethod
    def merged(cls, num_classes, states):
        """The counts of every `to_json` state summed (int64): those of one SeedPR that saw all."""
        pr = cls(num_classes)
        for state in states:
            for name in cls.COUNTS:
                setattr(pr, name, getattr(pr, name) + np.asarray(state[name], np.int64))
        return pr

    def curves(self):
        """{thresholds, fg_precision, fg_recall, bg_precision, bg_recall}: arrays over tau (0..1)."""
        present = self.gt_fg > 0
        pred, hit = _count_at_or_above(self.pred)[present], _count_at_or_above(self.hit)[present]
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class = np.where(pred > 0, hit / np.maximum(pred, 1), 0.0)
            classes_with_fg = (pred > 0).sum(axis=0)
            fg_precision = np.where(classes_with_fg > 0,
                                    per_class.sum(axis=0) / np.maximum(classes_with_fg, 1), np.nan)
            fg_recall = np.mean(hit / self.gt_fg[present][:, None], axis=0)
            bg_total = self.gt_bg.sum()
            bg_predicted = self.valid.sum() - _count_at_or_above(self.valid)
            bg_correct = bg_total - _count_at_or_above(self.gt_bg)
            bg_precision = np.where(bg_predicted > 0, bg_correct / bg_predicted, np.nan)
            bg_recall = bg_correct / bg_total if bg_total else np.full(len(self.thresholds), np.nan)
        return {"thresholds": self.thresholds.astype(np.float64), "fg_precision": fg_precision,
                "fg_recall": fg_recall, "bg_precision": bg_precision, "bg_recall": bg_recall}


def precision_at_recall(recall, precision, target):
    """Precision where the curve reaches `target` recall, interpolated linearly; NaN if never."""
    recall, precision = np.asarray(recall, np.float64), np.asarray(precision, np.float64)
    ok = np.isfinite(recall) & np.isfinite(precision)
    recall, precision = recall[ok], precision[ok]
    if not recall.size or target < recall.min() or target > recall.max():
        return float("nan")
    order = np.argsort(recall, kind="stable")
    return float(np.interp(target, recall[order], precision[order]))


def mean_precision(curves, fg_recall=0.2, bg_recall=0.8):
    """Table 1's mP and its two terms, in percent."""
    fg = precision_at_recall(curves["fg_recall"], curves["fg_precision"], fg_recall) * 100
    bg = precision_at_recall(curves["bg_recall"], curves["bg_precision"], bg_recall) * 100
    return {"mP": (fg + bg) / 2, "fg_precision_at_20_recall": fg, "bg_precision_at_80_recall": bg}
