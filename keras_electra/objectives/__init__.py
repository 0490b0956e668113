"""The ELECTRA objective as pure tensor functions."""

from keras_electra.objectives.losses import ElectraLosses, electra_loss, mlm_loss, rtd_loss
from keras_electra.objectives.masking import MaskedInputs, mask_tokens, maskable_positions
from keras_electra.objectives.sampling import replace_tokens, sample_from_logits
