"""Minimum Barrier Distance saliency (MB+, the paper's [52]) against an exact brute force."""

from collections import deque

import numpy as np
import pytest

from tfguided.saliency.mbd import fast_mbd, map_png, mbd_saliency, read_map_png


def exact_mbd(image):
    """For every interval [lo, hi] of pixel values: which pixels reach the border through pixels
    inside it (4-connected BFS); a pixel's MBD is the narrowest interval that works."""
    height, width = image.shape
    values = np.unique(image)
    best = np.full(image.shape, np.inf)
    for lo in values:
        for hi in values[values >= lo]:
            inside = (image >= lo) & (image <= hi)
            reached = np.zeros(image.shape, bool)
            queue = deque((y, x) for y in range(height) for x in range(width)
                          if inside[y, x] and (y in (0, height - 1) or x in (0, width - 1)))
            for y, x in queue:
                reached[y, x] = True
            while queue:
                y, x = queue.popleft()
                for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                    if 0 <= ny < height and 0 <= nx < width and inside[ny, nx] and not reached[ny, nx]:
                        reached[ny, nx] = True
                        queue.append((ny, nx))
            best[reached] = np.minimum(best[reached], hi - lo)
    return best


def test_square_on_flat_background():
    image = np.zeros((9, 9))
    image[3:6, 3:6] = 5.0
    dist = fast_mbd(image)
    assert np.all(dist[3:6, 3:6] == 5.0) and dist.sum() == 5.0 * 9
    np.testing.assert_array_equal(dist, exact_mbd(image))


def test_nested_rings_and_a_winding_corridor_match_the_exact_distance():
    image = np.zeros((11, 11))
    image[1:10, 1:10] = 2.0
    image[3:8, 3:8] = 7.0
    image[5, 5] = 1.0          # a dip inside: barrier max 7 - min 0 on any way out
    image[1:10, 5] = 0.0        # ... except the corridor at column 5, reaching the top row
    image[10, 5] = 0.0
    np.testing.assert_array_equal(fast_mbd(image), exact_mbd(image))


def test_never_below_the_exact_distance_on_random_images():
    """The scan only follows real paths, so it is an upper bound; on small images it is exact
    for most pixels after 3 passes."""
    rng = np.random.default_rng(0)
    for _ in range(5):
        image = rng.integers(0, 4, (7, 8)).astype(np.float64)
        fast, exact = fast_mbd(image), exact_mbd(image)
        assert np.all(fast >= exact - 1e-12)
        assert np.mean(fast == exact) > 0.9


def test_saliency_finds_an_object_without_training():
    rng = np.random.default_rng(1)
    image = (120 + rng.normal(0, 6, (90, 120, 3))).clip(0, 255).astype(np.uint8)
    image[30:60, 45:80] = (210, 40, 40)
    s = mbd_saliency(image)
    assert s.shape == (90, 120) and s.dtype == np.float32 and s.min() == 0 and s.max() == pytest.approx(1)
    obj = np.zeros((90, 120), bool)
    obj[30:60, 45:80] = True
    assert s[obj].mean() > 0.8 and s[~obj].mean() < 0.2
    fg = s >= 0.5
    assert (fg & obj).sum() / (fg | obj).sum() > 0.8


def test_stored_map_keeps_the_saliency_to_16_bits(tmp_path):
    import cv2

    image = np.random.default_rng(2).integers(0, 256, (40, 52, 3), dtype=np.uint8)
    ok, jpeg = cv2.imencode(".png", image[..., ::-1])
    path = tmp_path / "map.png"
    path.write_bytes(map_png(jpeg.tobytes()))
    np.testing.assert_allclose(read_map_png(str(path)), mbd_saliency(image), atol=0.5 / 65535 + 1e-7)
    path.write_bytes(cv2.imencode(".png", image)[1].tobytes())
    with pytest.raises(FileNotFoundError, match="not a 16-bit MB"):
        read_map_png(str(path))
