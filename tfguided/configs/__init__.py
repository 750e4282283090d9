"""Configuration: the schema (one dataclass per stage, the paper's numbers as defaults), named
presets, validation and overrides, each its own module; none imports TensorFlow or the code it
configures (the choices come from tfguided/registry.py).

    python train_main.py --stage=segmenter                    # preset demo: the embedded demo
    python train_main.py --list_overrides                     # every field, its value and type
"""

from tfguided.configs.overrides import class_defaults, diff, fields, fitted_to_data, override, preset  # noqa: F401
from tfguided.configs.presets import PRESETS, shared_data  # noqa: F401
from tfguided.configs.schema import (ClassifierConfig, Config, CrfConfig, DataConfig, EvalConfig,  # noqa: F401
                                     GuideConfig, NetConfig, SaliencyConfig, SeederConfig, SegmenterConfig,
                                     SelfTrainingConfig, SyntheticConfig, TrainConfig, TTAConfig)
from tfguided.configs.validation import choices, class_names, ranges, validate  # noqa: F401
