"""Fine-tuning scores over collected predictions: GLUE, SQuAD, entity tagging.

Plain numpy / scikit-learn / scipy / seqeval functions, not Keras metrics.
"""

from keras_electra.metrics.glue_metrics import (
    METRICS, accuracy, f1, glue_metrics, matthews_corrcoef, pearson, spearman)
from keras_electra.metrics.squad_metrics import (
    exact_match, f1_score, normalize_answer, squad_v1_metrics, squad_v2_metrics)
from keras_electra.metrics.tagging_metrics import entity_metrics
