"""Import to register every Keras class the package saves (models, loss, optimiser), so that each
`model.keras` of a workdir loads with `keras.saving.load_model(path)`, compiled."""

from tfguided.models import classifier, deeplab, gap  # noqa: F401  (registers the model classes)
from tfguided.train import losses, optim  # noqa: F401  (registers the loss and the optimiser)
