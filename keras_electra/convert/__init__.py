"""Weight conversion: Hugging Face `transformers`, keras-hub (more formats to come)."""

from keras_electra.convert.keras_hub import from_keras_hub, to_keras_hub
from keras_electra.convert.original import from_original_checkpoint
from keras_electra.convert.transformers import (
    TransformersTaskInfo,
    config_from_transformers,
    from_transformers,
    task_model_from_transformers,
    to_transformers,
)

__all__ = ["config_from_transformers", "from_keras_hub", "from_original_checkpoint",
           "from_transformers", "task_model_from_transformers", "to_keras_hub",
           "to_transformers", "TransformersTaskInfo"]
