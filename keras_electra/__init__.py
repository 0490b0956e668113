"""ELECTRA pre-training for Keras 3 / TensorFlow (Clark et al., 2020)."""

from keras_electra.builders import build_pretrainer
from keras_electra.config import ElectraConfig
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_pretrainer import ElectraPretrainer

__version__ = "0.1.0"
