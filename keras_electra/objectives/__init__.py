"""The ELECTRA objective, and the paper's ablations, as pure tensor functions."""

from keras_electra.objectives.chunked_mlm import MlmOutputs, chunked_mlm_loss, tied_logits
from keras_electra.objectives.losses import (
    ElectraLosses, copy_mechanism_log_likelihood, copy_mechanism_loss,
    copy_mechanism_probabilities, electra_loss, mlm_loss, rtd_loss)
from keras_electra.objectives.masking import (
    MaskedInputs, bert_mask_tokens, mask_tokens, maskable_positions, random_replacements)
from keras_electra.objectives.sampling import replace_tokens, sample_from_logits
