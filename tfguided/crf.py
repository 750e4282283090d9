"""Fully connected CRF [19] (Krähenbühl & Koltun) with Potts compatibility, via pydensecrf.

Parameters follow supp. C.1: `deeplab` (w1=4, theta_alpha=121, theta_beta=5; w2=3, theta_gamma=3)
and `sec` (10, 80, 13; 3, 3). Used by crf-seed, the G2 guide (mixed components), crf-loss and
the evaluation (crf-postproc).
"""

import cv2
import numpy as np
import pydensecrf.densecrf as dcrf

DEEPLAB_CRF = dict(bilateral_weight=4.0, bilateral_xy=121.0, bilateral_rgb=5.0,
                   gaussian_weight=3.0, gaussian_xy=3.0)  # DeepLab-LargeFOV, supp. C.1 "v2"
SEC_CRF = dict(bilateral_weight=10.0, bilateral_xy=80.0, bilateral_rgb=13.0,
               gaussian_weight=3.0, gaussian_xy=3.0)  # SEC [18], supp. C.1 "v1"
CRF_PARAMS = {"deeplab": DEEPLAB_CRF, "sec": SEC_CRF}


def settings(crf_cfg):
    """(params, iterations, downscale) of a config's CRF section, in `dense_crf`'s order."""
    return crf_cfg.params, crf_cfg.iterations, crf_cfg.downscale


def dense_crf(image, probs, params="deeplab", iterations=10, xy_scale=1.0, downscale=1.0):
    """RGB uint8 [H, W, 3] and class probabilities [H, W, C] -> refined probabilities [H, W, C].

    `xy_scale` divides the spatial standard deviations: a CRF on an image downscaled by s (SEC's
    crf-loss at the score-map resolution) keeps the full-size kernels' reach with xy_scale=s.
    `downscale` = s > 1 does that here: image (area-averaged) and probabilities shrunk by s, the
    CRF at xy_scale * s, its probabilities resized back (bilinear); about s^2 times cheaper.
    """
    if isinstance(params, str) and params not in CRF_PARAMS:
        raise ValueError(f"CRF params {params!r}: choose one of {sorted(CRF_PARAMS)}")
    if downscale < 1.0:
        raise ValueError(f"CRF downscale {downscale}: must be >= 1 (1 = full size)")
    p = CRF_PARAMS[params] if isinstance(params, str) else params
    height, width, num_labels = probs.shape
    if image.shape[:2] != (height, width):
        raise ValueError(f"dense_crf: image {image.shape[:2]} and probabilities {probs.shape[:2]} differ")
    if downscale > 1.0:
        size = (max(1, round(width / downscale)), max(1, round(height / downscale)))
        small_probs = cv2.resize(np.asarray(probs, np.float32), size, interpolation=cv2.INTER_LINEAR)
        q = dense_crf(cv2.resize(image, size, interpolation=cv2.INTER_AREA),
                      small_probs.reshape(size[1], size[0], num_labels), params, iterations,
                      xy_scale * downscale)
        q = cv2.resize(q, (width, height), interpolation=cv2.INTER_LINEAR)
        return q.reshape(height, width, num_labels)
    crf = dcrf.DenseCRF2D(width, height, num_labels)
    unary = -np.log(np.clip(probs, 1e-8, 1.0)).transpose(2, 0, 1).reshape(num_labels, -1)
    crf.setUnaryEnergy(np.ascontiguousarray(unary, np.float32))
    crf.addPairwiseGaussian(sxy=p["gaussian_xy"] / xy_scale, compat=p["gaussian_weight"])
    crf.addPairwiseBilateral(sxy=p["bilateral_xy"] / xy_scale, srgb=p["bilateral_rgb"],
                             rgbim=np.ascontiguousarray(image, np.uint8), compat=p["bilateral_weight"])
    q = np.array(crf.inference(iterations), np.float32)
    return q.reshape(num_labels, height, width).transpose(1, 2, 0)


def crf_labels(image, probs, params="deeplab", iterations=10, downscale=1.0):
    """The label map after a dense CRF: argmax of `dense_crf`, uint8 [H, W] (crf-postproc)."""
    return dense_crf(image, probs, params, iterations, downscale=downscale).argmax(-1).astype(np.uint8)
