"""The embedded demo data: procedural scenes in VOC layout and a saliency set in MSRA layout.

The scenes exercise what the paper is about (§1, §5): several target classes per image, each known
by its shape and a hue family (as real classes have typical colours; distractors take any hue, so
colour alone does not decide); muted textured backgrounds; a context texture, rails, that co-occurs with the "wagon"
class as rails do with trains; salient objects of no target class (labelled background in the
ground truth, like non-VOC objects in VOC); small and large objects; a thin void (255) border on
object outlines as in VOC. The saliency set shows one main object per image, always of a
non-target kind (the paper removes Pascal classes from MSRA), with boxes from several simulated
annotators, written in the MSRA text format (count; then per image: path, "width height",
"l t r b; l t r b; ...").

Everything is drawn from one `numpy.random.Generator` seeded by `rng_seed`: same seed, same bytes.
"""

import os

import cv2
import numpy as np

from tfguided import files
from tfguided.data import imageio, labelmap

SUPERSAMPLE = 2
HUE_SPREAD = 0.06  # each target class has a hue family of +-0.06 around its own hue


def _star(n_points, inner):
    angles = np.arange(2 * n_points) * np.pi / n_points - np.pi / 2
    radii = np.where(np.arange(2 * n_points) % 2 == 0, 1.0, inner)
    return np.stack([np.cos(angles) * radii, np.sin(angles) * radii], 1)


def _regular(n):
    angles = np.arange(n) * 2 * np.pi / n - np.pi / 2
    return np.stack([np.cos(angles), np.sin(angles)], 1)


# Unit-size outlines, roughly within [-1, 1]^2. A kind is a list of polygons (filled in order).
TARGET_KINDS = {
    "wagon": [np.array([[-1, -0.55], [1, -0.55], [1, 0.35], [-1, 0.35]]),
              np.array([[-0.75, 0.3], [-0.35, 0.3], [-0.35, 0.7], [-0.75, 0.7]]),
              np.array([[0.35, 0.3], [0.75, 0.3], [0.75, 0.7], [0.35, 0.7]])],
    "disc": [_regular(40)],
    "triangle": [_regular(3) * 1.1 + [0, 0.15]],
    "star": [_star(5, 0.42)],
    "cross": [np.array([[-0.3, -1], [0.3, -1], [0.3, -0.3], [1, -0.3], [1, 0.3], [0.3, 0.3],
                        [0.3, 1], [-0.3, 1], [-0.3, 0.3], [-1, 0.3], [-1, -0.3], [-0.3, -0.3]])],
    "diamond": [np.array([[0, -1], [0.62, 0], [0, 1], [-0.62, 0]])],
}
CONTEXT_CLASS = "wagon"  # always on rails, as trains are


def _blob(rng):
    angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
    radii = rng.uniform(0.55, 1.0, 9)
    return [np.stack([np.cos(angles) * radii, np.sin(angles) * radii], 1)]


def _crescent(rng):
    t = np.linspace(-np.pi / 2, np.pi / 2, 24)
    outer = np.stack([np.cos(t), np.sin(t)], 1)
    inner = np.stack([np.cos(t[::-1]) * 0.45, np.sin(t[::-1])], 1)
    return [np.concatenate([outer, inner]) - [0.3, 0]]


NON_TARGET_KINDS = {
    "ellipse": lambda rng: [_regular(40) * [1.0, rng.uniform(0.35, 0.6)]],
    "blob": _blob,
    "crescent": _crescent,
    "arrow": lambda rng: [np.array([[-1, -0.25], [0.2, -0.25], [0.2, -0.6], [1, 0], [0.2, 0.6],
                                    [0.2, 0.25], [-1, 0.25]])],
    "ring": lambda rng: [_regular(40), _regular(40) * 0.5],  # inner polygon is cut out
    "hexagon": lambda rng: [_regular(6)],
}


def _hsv_to_rgb(h, s, v):
    hsv = np.array([[[h * 179, s * 255, v * 255]]], np.float32).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _vivid(rng, hue=None):
    """A saturated colour; near `hue` (a class's hue family) when given, else any hue."""
    h = rng.uniform(0, 1) if hue is None else (hue + rng.uniform(-HUE_SPREAD, HUE_SPREAD)) % 1.0
    return _hsv_to_rgb(h, rng.uniform(0.6, 1.0), rng.uniform(0.55, 1.0))


def _muted(rng):
    return _hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.0, 0.22), rng.uniform(0.3, 0.8))


def _smooth_noise(rng, size, cells):
    field = rng.normal(0, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(field, (size, size), interpolation=cv2.INTER_CUBIC)


def background(rng, size):
    """A muted textured background: two-tone split, smooth noise, stripes, checks or grain."""
    base = _muted(rng)
    img = np.ones((size, size, 3), np.float32) * base
    if rng.uniform() < 0.4:  # horizon: a second muted tone below a random line
        y = int(rng.uniform(0.3, 0.8) * size)
        img[y:] = _muted(rng)
    kind = rng.integers(4)
    yy, xx = np.mgrid[:size, :size].astype(np.float32) / size
    if kind == 0:
        tex = _smooth_noise(rng, size, int(rng.integers(3, 9))) * 18
    elif kind == 1:
        angle, freq = rng.uniform(0, np.pi), rng.uniform(8, 24)
        tex = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * freq * np.pi) * 12
    elif kind == 2:
        freq = rng.uniform(4, 12)
        tex = np.sign(np.sin(xx * freq * np.pi) * np.sin(yy * freq * np.pi)) * 8
    else:
        tex = rng.normal(0, 10, (size, size)).astype(np.float32)
    return img + tex[..., None]


def draw_rails(img, rng, y):
    """Rails: two dark parallel lines on sleepers, across the whole width at height y.

    Args:
      img: the float RGB image [S, S, 3], drawn into in place.
      rng: the numpy.random.Generator.
      y: the rails' row, in pixels.
    """
    size = img.shape[0]
    gauge = max(3, int(size * 0.06))
    sleeper = _hsv_to_rgb(rng.uniform(0.05, 0.1), rng.uniform(0.2, 0.4), rng.uniform(0.3, 0.45))
    steel = np.full(3, rng.uniform(40, 70), np.float32)
    step = max(4, int(size * 0.05))
    for x in range(int(rng.integers(step)), size, step):
        cv2.rectangle(img, (x, y - gauge), (x + max(1, step // 3), y + gauge), sleeper.tolist(), -1)
    thickness = max(1, size // 64)
    for dy in (-gauge // 2 - 1, gauge // 2 + 1):
        cv2.line(img, (0, y + dy), (size, y + dy), steel.tolist(), thickness)


def _object_paint(rng, shape, hue=None):
    """A vivid fill: plain, two-colour stripes, spots, or a vertical shade, in a hue family."""
    h, w = shape
    first, second = _vivid(rng, hue), _vivid(rng, hue)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    kind = rng.integers(4)
    if kind == 0:
        t = np.zeros((h, w), np.float32)
    elif kind == 1:
        angle, period = rng.uniform(0, np.pi), rng.uniform(0.1, 0.25) * w
        t = (np.sin((xx * np.cos(angle) + yy * np.sin(angle)) / period * 2 * np.pi) > 0) * 1.0
    elif kind == 2:
        period = rng.uniform(0.12, 0.25) * w
        t = ((np.sin(xx / period * 2 * np.pi) * np.sin(yy / period * 2 * np.pi)) > 0.5) * 1.0
    else:
        t = yy / h
    return first * (1 - t[..., None]) + second * t[..., None]


def _polygons_mask(polys, centre, radius, angle, canvas):
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    mask = np.zeros((canvas, canvas), np.uint8)
    for i, poly in enumerate(polys):
        pts = (np.asarray(poly, np.float64) @ rot.T) * radius + centre
        value = 0 if (i > 0 and len(polys) == 2 and len(poly) == len(polys[0])) else 1  # ring hole
        cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], value, cv2.LINE_8, shift=4)
    return mask.astype(bool)


def paint_object(img, labels, rng, polys, centre, radius, angle, label, hue=None):
    """Fills the object into the supersampled image and label map; returns its mask.

    Args:
      img: the supersampled float RGB image [S, S, 3], painted in place.
      labels: its uint8 label map [S, S], set to `label` under the object.
      rng: the numpy.random.Generator.
      polys: the kind's unit-size outlines (TARGET_KINDS, NON_TARGET_KINDS).
      centre: (x, y) in pixels.
      radius: pixels per outline unit.
      angle: the rotation, in radians.
      label: the object's label.
      hue: the class's hue family, or None for any hue.
    """
    mask = _polygons_mask(polys, centre, radius, angle, img.shape[0])
    if mask.any():
        ys, xs = np.nonzero(mask)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        paint = _object_paint(rng, (y1 - y0, x1 - x0), hue)
        region = mask[y0:y1, x0:x1]
        img[y0:y1, x0:x1][region] = paint[region]
        labels[mask] = label
    return mask


def _finish(img, rng, size):
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    img = img + rng.normal(0, 3.0, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def void_border(labels):
    """VOC-style void: 255 on pixels whose right or lower neighbour has another label, if either is an object."""
    out = labels.copy()
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        edge = (a != b) & ((a > 0) | (b > 0))
        target = out[:, :-1] if a.shape[1] != labels.shape[1] else out[:-1, :]
        target[edge] = labelmap.IGNORE
    return out


def scene(rng, size, class_names, max_objects=3, distractor_prob=0.45, rails_without_wagon=0.05):
    """One target-class scene: RGB uint8 [size, size, 3], label map uint8 with void borders.

    Args:
      rng: the numpy.random.Generator.
      size: the image's side, in pixels.
      class_names: the classes, background first (`demo_class_names`).
      max_objects: at most this many target objects (at least one).
      distractor_prob: the chance of one more object, of no target class (labelled background).
      rails_without_wagon: the chance of rails in a scene without a wagon.
    """
    canvas = size * SUPERSAMPLE
    img = background(rng, canvas)
    labels = np.zeros((canvas, canvas), np.uint8)
    targets = class_names[1:]
    n_objects = int(rng.integers(1, max_objects + 1))
    kinds = [targets[int(rng.integers(len(targets)))] for _ in range(n_objects)]
    rails_y = None
    if CONTEXT_CLASS in kinds or rng.uniform() < rails_without_wagon:
        rails_y = int(rng.uniform(0.45, 0.85) * canvas)
        draw_rails(img, rng, rails_y)
    plan = [(k, class_names.index(k)) for k in kinds]
    if rng.uniform() < distractor_prob:
        plan.insert(int(rng.integers(len(plan) + 1)), (None, 0))
    for kind, label in plan:
        hue = None if kind is None else (label - 1) / len(targets)
        radius = canvas * rng.uniform(0.08, 0.4) / (1 + 0.25 * (n_objects - 1))
        centre = rng.uniform(radius * 0.5, canvas - radius * 0.5, 2)
        angle = rng.uniform(-0.35, 0.35)
        if kind is None:
            polys = NON_TARGET_KINDS[list(NON_TARGET_KINDS)[rng.integers(len(NON_TARGET_KINDS))]](rng)
            angle = rng.uniform(0, 2 * np.pi)
        else:
            polys = TARGET_KINDS[kind]
            if kind == CONTEXT_CLASS and rails_y is not None:
                angle = 0.0
                centre[1] = rails_y - 0.6 * radius  # wheels on the rails
        paint_object(img, labels, rng, polys, centre, radius, angle, label, hue)
    labels = cv2.resize(labels, (size, size), interpolation=cv2.INTER_NEAREST)
    return _finish(img, rng, size), void_border(labels)


def saliency_scene(rng, size, n_annotators, clutter_prob=0.3):
    """One MSRA-style image: a main non-target object, its annotators' boxes (l, t, r, b), inclusive.

    Args:
      rng: the numpy.random.Generator.
      size: the image's side, in pixels.
      n_annotators: how many boxes.
      clutter_prob: the chance of a small second object.
    Returns:
      (RGB uint8 [size, size, 3], [one box per annotator]).
    """
    canvas = size * SUPERSAMPLE
    img = background(rng, canvas)
    scratch = np.zeros((canvas, canvas), np.uint8)
    kinds = list(NON_TARGET_KINDS)
    if rng.uniform() < clutter_prob:
        polys = NON_TARGET_KINDS[kinds[rng.integers(len(kinds))]](rng)
        paint_object(img, scratch, rng, polys, rng.uniform(0, canvas, 2), canvas * rng.uniform(0.04, 0.08),
                     rng.uniform(0, 2 * np.pi), 2)
    radius = canvas * rng.uniform(0.15, 0.4)
    centre = rng.uniform(0.5 * radius, canvas - 0.5 * radius, 2)  # anywhere: no centre prior to learn
    polys = NON_TARGET_KINDS[kinds[rng.integers(len(kinds))]](rng)
    mask = paint_object(img, scratch, rng, polys, centre, radius, rng.uniform(0, 2 * np.pi), 1)
    ys, xs = np.nonzero(mask)
    box = np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.float64) / SUPERSAMPLE
    boxes = []
    for _ in range(n_annotators):
        jitter = rng.normal(0, 0.03 * size, 4)
        if rng.uniform() < 0.15:  # a loose annotator
            jitter += np.array([-1, -1, 1, 1]) * rng.uniform(0.02, 0.08) * size
        l, t, r, b = np.clip(np.round(box + jitter), 0, size - 1).astype(int)
        boxes.append((min(l, r), min(t, b), max(l, r), max(t, b)))
    return _finish(img, rng, size), boxes


def demo_class_names(num_classes):
    """The demo's class names for `num_classes` target classes, background first."""
    return ["background"] + list(TARGET_KINDS)[:num_classes]


def generate(out_dir, cfg, rng_seed, progress=None):
    """Writes `out_dir/VOC2012` (VOC layout + image_labels.tsv + class_names.txt) and `out_dir/MSRA`.

    `cfg` is a `tfguided.configs.SyntheticConfig`. Returns a dict of counts.
    """
    rng = np.random.default_rng(rng_seed)
    class_names = demo_class_names(cfg.num_classes)
    voc = os.path.join(out_dir, "VOC2012")
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        os.makedirs(os.path.join(voc, sub), exist_ok=True)
    label_lines = ["# image id<TAB>space-separated class indices present (synthetic demo data)"]
    done = 0
    for split, count in (("train", cfg.train), ("val", cfg.val)):
        ids = []
        for i in range(count):
            image_id = f"{split}_{i:05d}"
            img, labels = scene(rng, cfg.image_size, class_names, cfg.max_objects)
            present = sorted(int(c) for c in np.unique(labels) if 0 < c < labelmap.IGNORE)
            if not present:  # the drawn objects were all hidden: draw again
                img, labels = scene(rng, cfg.image_size, class_names, cfg.max_objects)
                present = sorted(int(c) for c in np.unique(labels) if 0 < c < labelmap.IGNORE)
            imageio.write_image(os.path.join(voc, "JPEGImages", image_id + ".jpg"), img, quality=92)
            labelmap.write_label_png(os.path.join(voc, "SegmentationClass", image_id + ".png"), labels)
            label_lines.append(image_id + "\t" + " ".join(map(str, present)))
            ids.append(image_id)
            done += 1
            if progress:
                progress(done)
        files.atomic_write_text(os.path.join(voc, "ImageSets/Segmentation", split + ".txt"),
                                "\n".join(ids) + "\n")
    files.atomic_write_text(os.path.join(voc, "image_labels.tsv"), "\n".join(label_lines) + "\n")
    files.atomic_write_text(os.path.join(voc, "class_names.txt"), "\n".join(class_names) + "\n")

    msra = os.path.join(out_dir, "MSRA")
    os.makedirs(os.path.join(msra, "Image"), exist_ok=True)
    lines = [str(cfg.saliency)]
    for i in range(cfg.saliency):
        name = f"sal_{i:05d}.jpg"
        img, boxes = saliency_scene(rng, cfg.image_size, cfg.annotators)
        imageio.write_image(os.path.join(msra, "Image", name), img, quality=92)
        lines += [name, f"{cfg.image_size} {cfg.image_size}",
                  "; ".join(" ".join(map(str, b)) for b in boxes) + ";"]
        done += 1
        if progress:
            progress(done)
    files.atomic_write_text(os.path.join(msra, "labels.txt"), "\n".join(lines) + "\n")
    return {"train": cfg.train, "val": cfg.val, "saliency": cfg.saliency,
            "class_names": class_names}
