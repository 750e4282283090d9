"""The named settings that are not extension points (those are in registry.py), each defined
once: read by the code that implements it and by the config validation, importing no TensorFlow."""

OPTIMIZERS = ("sgd", "adam")  # train/optim.py: SGD with the paper's lr_mult, or Adam (CPU presets)
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")  # train/loop.py: Keras dtype policies
STRATEGIES = ("default", "mirrored", "multi_worker")  # train/strategy.py: tf.distribute by name
LABELLERS = ("processes", "tf_data")  # guide.labeller: stages/guide.py's worker processes, or guide/dataset.py
