"""tfguided: Guided Segmentation (Oh et al., CVPR 2017); one room per concern (README.md).

Importing the package loads neither TensorFlow nor Keras: numpy-only pieces (the guide rules,
the metrics, the converters' readers) stay light in worker processes. `import
tfguided.saved_models` registers the package's Keras classes so that every saved `model.keras`
loads with `keras.saving.load_model(path)` (compiled).
"""
