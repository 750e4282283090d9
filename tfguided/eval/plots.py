"""Line charts drawn with OpenCV (no plotting library needed): the paper's Figure 3 (precision
against recall for the seeders) and the learning curves of bench/learning_curves.py.

Each panel is a square of axes with a grid, ticks, a title and one line per series; a legend
below the panels names the series by colour.
"""

import cv2
import numpy as np

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
SIZE, MARGIN = 320, 48
FONT = cv2.FONT_HERSHEY_SIMPLEX


class Panel:
    """Axes from (x0, y0) to (x1, y1) with five grid steps, drawn on a white canvas."""

    def __init__(self, title, x_label, y_label, x_range=(0.0, 1.0), y_range=(0.0, 1.0)):
        self.x_range, self.y_range = x_range, y_range
        self.canvas = np.full((SIZE + 2 * MARGIN, SIZE + 2 * MARGIN, 3), 255, np.uint8)
        c = self.canvas
        for k in range(6):
            v = MARGIN + int(round(k / 5 * SIZE))
            cv2.line(c, (v, MARGIN), (v, MARGIN + SIZE), (225, 225, 225), 1)
            cv2.line(c, (MARGIN, v), (MARGIN + SIZE, v), (225, 225, 225), 1)
            cv2.putText(c, _tick(x_range[0] + k / 5 * (x_range[1] - x_range[0])), (v - 10, MARGIN + SIZE + 16),
                        FONT, 0.38, (0, 0, 0), 1)
            cv2.putText(c, _tick(y_range[1] - k / 5 * (y_range[1] - y_range[0])), (MARGIN - 34, v + 4),
                        FONT, 0.38, (0, 0, 0), 1)
        cv2.rectangle(c, (MARGIN, MARGIN), (MARGIN + SIZE, MARGIN + SIZE), (0, 0, 0), 1)
        cv2.putText(c, title, (MARGIN + SIZE // 2 - 4 * len(title), MARGIN - 24), FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(c, x_label, (MARGIN + SIZE // 2 - 3 * len(x_label), MARGIN + SIZE + 36), FONT, 0.42,
                    (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(c, y_label, (2, MARGIN - 9), FONT, 0.38, (0, 0, 0), 1, cv2.LINE_AA)

    def point(self, x, y):
        fx = (x - self.x_range[0]) / (self.x_range[1] - self.x_range[0])
        fy = (y - self.y_range[0]) / (self.y_range[1] - self.y_range[0])
        return MARGIN + int(round(fx * SIZE)), MARGIN + int(round((1 - fy) * SIZE))

    def line(self, xs, ys, colour, thickness=2, markers=False):
        """One series; points with a non-finite coordinate are left out."""
        xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
        ok = np.isfinite(xs) & np.isfinite(ys)
        points = np.array([self.point(x, y) for x, y in zip(xs[ok], ys[ok])], np.int32)
        if len(points) > 1:
            cv2.polylines(self.canvas, [points], False, colour, thickness, cv2.LINE_AA)
        for p in points if markers else ():
            cv2.circle(self.canvas, tuple(int(v) for v in p), 4, colour, -1, cv2.LINE_AA)


def _tick(value):
    return f"{value:.1f}" if abs(value) < 10 else f"{value:.0f}"


def figure(panels, names):
    """Panels side by side over a legend naming `names` in COLOURS order -> RGB uint8 image."""
    legend = np.full((22 * len(names) + 12, panels[0].canvas.shape[1] * len(panels), 3), 255, np.uint8)
    for i, name in enumerate(names):
        y = 16 + 22 * i
        cv2.line(legend, (MARGIN, y - 4), (MARGIN + 30, y - 4), COLOURS[i % len(COLOURS)], 3)
        cv2.putText(legend, name, (MARGIN + 40, y), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([np.concatenate([p.canvas for p in panels], axis=1), legend], axis=0)


def pr_figure(curves_by_name):
    """{name: curves (SeedPR.curves())} -> RGB uint8 image with fg and bg PR panels and a legend,
    a vertical line where mP reads its values (fg at 20%, bg at 80% recall)."""
    panels = []
    for kind, marker in (("fg", 0.2), ("bg", 0.8)):
        panel = Panel("foreground" if kind == "fg" else "background", "recall", "precision")
        panel.line([marker, marker], [0, 1], (160, 160, 160), thickness=1)
        for i, curves in enumerate(curves_by_name.values()):
            panel.line(curves[f"{kind}_recall"], curves[f"{kind}_precision"], COLOURS[i % len(COLOURS)])
        panels.append(panel)
    return figure(panels, list(curves_by_name))


def curves_figure(charts):
    """Learning curves: charts = [(title, x_label, y_label, {name: (xs, ys)})], one panel each;
    the x axis from 0 to the largest x, the y axis from 0 to the next 10 above the largest y;
    series with the same name share a colour across panels -> RGB uint8 image."""
    names = list(dict.fromkeys(name for *_, series in charts for name in series))
    panels = []
    for title, x_label, y_label, series in charts:
        values = [(x, y) for xs, ys in series.values() for x, y in zip(xs, ys) if y is not None]
        x_max = max(x for x, _ in values)
        y_max = 10 * np.ceil(max(y for _, y in values) / 10 + 1e-9)
        panel = Panel(title, x_label, y_label, (0.0, float(x_max)), (0.0, float(y_max)))
        for name, (xs, ys) in series.items():
            panel.line(xs, [np.nan if y is None else y for y in ys], COLOURS[names.index(name) % len(COLOURS)],
                       markers=True)
        panels.append(panel)
    return figure(panels, names)
