"""Precision-recall plots drawn with OpenCV (no plotting library needed): the paper's Figure 3.

Two panels, foreground and background, recall on x and precision on y (both 0..1), one line
per seeder, a legend, and a vertical line where mP reads its values (fg at 20%, bg at 80% recall).
"""

import cv2
import numpy as np

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
SIZE, MARGIN = 320, 48


def _axes(title):
    canvas = np.full((SIZE + 2 * MARGIN, SIZE + 2 * MARGIN, 3), 255, np.uint8)
    for k in range(6):
        v = MARGIN + int(round(k / 5 * SIZE))
        cv2.line(canvas, (v, MARGIN), (v, MARGIN + SIZE), (225, 225, 225), 1)
        cv2.line(canvas, (MARGIN, v), (MARGIN + SIZE, v), (225, 225, 225), 1)
        label = f"{k / 5:.1f}"
        cv2.putText(canvas, label, (v - 10, MARGIN + SIZE + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1)
        cv2.putText(canvas, f"{1 - k / 5:.1f}", (MARGIN - 30, v + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1)
    cv2.rectangle(canvas, (MARGIN, MARGIN), (MARGIN + SIZE, MARGIN + SIZE), (0, 0, 0), 1)
    cv2.putText(canvas, title, (MARGIN + SIZE // 2 - 40, MARGIN - 24), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(canvas, "recall", (MARGIN + SIZE // 2 - 20, MARGIN + SIZE + 36), cv2.FONT_HERSHEY_SIMPLEX,
                0.42, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(canvas, "precision", (2, MARGIN - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def _point(recall, precision):
    return (MARGIN + int(round(recall * SIZE)), MARGIN + int(round((1 - precision) * SIZE)))


def pr_figure(curves_by_name):
    """{name: curves (SeedPR.curves())} -> RGB uint8 image with fg and bg PR panels and a legend."""
    panels = []
    for kind, marker in (("fg", 0.2), ("bg", 0.8)):
        canvas = _axes("foreground" if kind == "fg" else "background")
        cv2.line(canvas, _point(marker, 0), _point(marker, 1), (160, 160, 160), 1, cv2.LINE_AA)
        for i, curves in enumerate(curves_by_name.values()):
            recall, precision = np.asarray(curves[f"{kind}_recall"]), np.asarray(curves[f"{kind}_precision"])
            ok = np.isfinite(recall) & np.isfinite(precision)
            points = np.array([_point(r, p) for r, p in zip(recall[ok], precision[ok])], np.int32)
            if len(points) > 1:
                cv2.polylines(canvas, [points], False, COLOURS[i % len(COLOURS)], 2, cv2.LINE_AA)
        panels.append(canvas)
    legend = np.full((22 * len(curves_by_name) + 12, panels[0].shape[1] * 2, 3), 255, np.uint8)
    for i, name in enumerate(curves_by_name):
        y = 16 + 22 * i
        cv2.line(legend, (MARGIN, y - 4), (MARGIN + 30, y - 4), COLOURS[i % len(COLOURS)], 3)
        cv2.putText(legend, name, (MARGIN + 40, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([np.concatenate(panels, axis=1), legend], axis=0)
