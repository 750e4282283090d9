"""Networks: the VGG-16 and MobileNet trunks, the GAP seeders of Table 6, the VGG-16 classifier,
DeepLab-v1 LargeFOV, DeepLab-v2 ResNet-101 with ASPP (the saliency net) and DeepLab-v3+; may
import tfguided.data and scoremaps (the v3+ decoder resamples with the exact geometry) only.

Importing this package registers the model classes with Keras, so saved models load.
"""

from tfguided.models import classifier, deeplab, gap  # noqa: F401
