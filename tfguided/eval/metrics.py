"""Segmentation metrics as the VOC devkit computes them, from an int64 confusion matrix.

IoU_c = TP / (TP + FP + FN) per class over the whole set (not per image); mIoU is the mean over
classes that occur in the ground truth or the predictions; void (255) ground-truth pixels are
skipped. Counts are int64: float32 loses exactness past 2^24 pixels (BUILD_NOTES.md).
"""

import numpy as np

from tfguided.data.labelmap import IGNORE


def confusion_matrix(gt, pred, num_labels, ignore=IGNORE):
    """[num_labels, num_labels] int64, rows = ground truth, columns = prediction."""
    gt = np.asarray(gt).ravel().astype(np.int64)
    pred = np.asarray(pred).ravel().astype(np.int64)
    if gt.shape != pred.shape:
        raise ValueError(f"confusion_matrix: {gt.size} ground-truth pixels vs {pred.size} predicted")
    valid = gt != ignore
    gt, pred = gt[valid], pred[valid]
    bad = (gt >= num_labels) | (pred < 0) | (pred >= num_labels)
    if bad.any():
        values = np.unique(np.concatenate([gt[bad], pred[bad]]))
        raise ValueError(f"confusion_matrix: label values {values[:10].tolist()} outside "
                         f"0..{num_labels - 1} (and {ignore} in the ground truth)")
    return np.bincount(gt * num_labels + pred, minlength=num_labels ** 2).reshape(
        num_labels, num_labels).astype(np.int64)


def per_class_iou(conf):
    """IoU per class; NaN for a class absent from both ground truth and predictions."""
    tp = np.diag(conf).astype(np.float64)
    union = conf.sum(0) + conf.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def per_class_dict(conf, class_names):
    """{class name: IoU in percent, or None for a class absent from truth and predictions}."""
    return {name: (None if np.isnan(v) else float(v))
            for name, v in zip(class_names, per_class_iou(conf) * 100)}


def mean_iou(conf):
    """mIoU in percent over the classes that occur."""
    iou = per_class_iou(conf)
    return float(np.nanmean(iou) * 100) if np.isfinite(iou).any() else float("nan")


def pixel_accuracy(conf):
    return float(np.trace(conf) / max(conf.sum(), 1) * 100)


def iou_table(conf_by_name, class_names):
    """Markdown table: one row per class, one column per confusion matrix, mIoU last (percent)."""
    names = list(conf_by_name)
    ious = {n: per_class_iou(c) * 100 for n, c in conf_by_name.items()}
    lines = ["| class | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for k, cls in enumerate(class_names):
        lines.append(f"| {cls} | " + " | ".join(
            "-" if np.isnan(ious[n][k]) else f"{ious[n][k]:.1f}" for n in names) + " |")
    lines.append("| **mIoU** | " + " | ".join(f"**{mean_iou(conf_by_name[n]):.1f}**" for n in names)
                 + " |")
    return "\n".join(lines)


def guide_quality_counts(gt, guide, ignore=IGNORE):
    """Pixel counts behind Table 2's supervision columns for one image, as an int64 vector.

    Order: fg_correct, fg_labelled, fg_gt, bg_correct, bg_labelled, bg_gt; void ground truth is
    skipped; guide pixels at `ignore` count as unlabelled.
    """
    gt = np.asarray(gt).ravel()
    guide = np.asarray(guide).ravel()
    valid = gt != ignore
    gt, guide = gt[valid], guide[valid]
    fg_guide = (guide > 0) & (guide != ignore)
    return np.array([
        np.sum(fg_guide & (guide == gt)), np.sum(fg_guide), np.sum(gt > 0),
        np.sum((guide == 0) & (gt == 0)), np.sum(guide == 0), np.sum(gt == 0)], np.int64)


def guide_quality(counts):
    """Summed counts -> foreground/background precision and recall in percent (Table 2)."""
    fg_c, fg_l, fg_g, bg_c, bg_l, bg_g = (float(v) for v in counts)
    pct = lambda a, b: 100.0 * a / b if b else float("nan")
    return {"fg_precision": pct(fg_c, fg_l), "fg_recall": pct(fg_c, fg_g),
            "bg_precision": pct(bg_c, bg_l), "bg_recall": pct(bg_c, bg_g)}


def average_precision(scores, positives):
    """VOC-style AP: area under the precision-recall curve with the monotone precision envelope."""
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    hits = np.asarray(positives, bool)[order]
    if not hits.any():
        return float("nan")
    tp = np.cumsum(hits)
    recall = np.concatenate([[0.0], tp / hits.sum(), [1.0]])
    precision = np.concatenate([[0.0], tp / np.arange(1, len(hits) + 1), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    changes = np.nonzero(recall[1:] != recall[:-1])[0]
    return float(np.sum((recall[changes + 1] - recall[changes]) * precision[changes + 1]))


def mean_average_precision(scores, targets):
    """[N, K] scores and {0,1} targets -> mAP in percent over classes with a positive."""
    aps = [average_precision(scores[:, k], targets[:, k] > 0.5) for k in range(scores.shape[1])]
    return float(np.nanmean(aps) * 100)


class SaliencyStats:
    """A saliency foreground against the ground-truth foreground, per image (§5.1): mean IoU and
    the share of images with IoU > 0.6, in percent; void pixels are skipped, an image with no
    foreground on either side counts as IoU 1."""

    def __init__(self):
        self.ious = []

    def add(self, gt, foreground):
        valid = gt != IGNORE
        gt_fg, fg = (gt > 0) & valid, foreground & valid
        union = np.sum(gt_fg | fg)
        self.ious.append(np.sum(gt_fg & fg) / union if union else 1.0)

    def results(self, prefix="saliency_"):
        if not self.ious:
            return {}
        ious = np.asarray(self.ious)
        return {prefix + "fg_iou_mean": float(ious.mean() * 100),
                prefix + "images_iou_over_0.6": float(np.mean(ious > 0.6) * 100)}


class GuideStats:
    """Accumulates a guide's supervision quality over images (Table 2's columns and more).

    Per image: the guide against the ground truth (Fg/Bg precision and recall; pseudo-label mIoU
    with ignore counted as background, the modern peers' convention) and the saliency
    foreground against the ground-truth foreground (§5.1: mean IoU, share of images above 0.6).
    """

    def __init__(self, num_labels):
        self.num_labels = num_labels
        self.counts = np.zeros(6, np.int64)
        self.pseudo = np.zeros((num_labels, num_labels), np.int64)
        self.saliency = SaliencyStats()

    def add(self, gt, guide, foreground=None):
        """One image; `foreground` (the saliency, bool) is None for guides that use none."""
        self.counts += guide_quality_counts(gt, guide)
        self.pseudo += confusion_matrix(gt, np.where(guide == IGNORE, 0, guide), self.num_labels)
        if foreground is not None:
            self.saliency.add(gt, foreground)

    def to_json(self):
        """The accumulated counts as JSON (a task's share, stages/parts.py)."""
        return {"counts": self.counts.tolist(), "pseudo": self.pseudo.tolist(),
                "saliency_ious": [float(v) for v in self.saliency.ious]}

    @classmethod
    def merged(cls, num_labels, states):
        """The statistics of the images of every `to_json` state, in order: exactly those of
        one GuideStats that saw them all (integer sums; the per-image IoUs in the same order)."""
        stats = cls(num_labels)
        for state in states:
            stats.counts += np.asarray(state["counts"], np.int64)
            stats.pseudo += np.asarray(state["pseudo"], np.int64)
            stats.saliency.ious += state["saliency_ious"]
        return stats

    def results(self):
        if not self.counts[2] + self.counts[5]:
            return {}
        return {**guide_quality(self.counts), "pseudo_label_miou": mean_iou(self.pseudo),
                **self.saliency.results()}
