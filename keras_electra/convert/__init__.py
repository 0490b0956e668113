"""Weight conversion: Hugging Face `transformers` (more formats to come)."""

from keras_electra.convert.transformers import (
    config_from_transformers,
    from_transformers,
    to_transformers,
)

__all__ = ["config_from_transformers", "from_transformers", "to_transformers"]
