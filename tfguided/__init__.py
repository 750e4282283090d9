"""tfguided: Guided Segmentation (Oh et al., CVPR 2017); one room per concern, README.md "Layout".

Importing the package registers its Keras classes (models, losses, optimiser), so every saved
`model.keras` loads with `keras.saving.load_model(path)` (compiled) after `import tfguided`.
"""

from tfguided import models  # noqa: F401  (registers the model classes)
from tfguided.train import losses, optim  # noqa: F401  (registers the loss and the optimiser)
