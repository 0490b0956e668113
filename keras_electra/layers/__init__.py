"""Layers keras-hub does not provide (its `TransformerEncoder`,
`ReversibleEmbedding`, `PositionEmbedding` and `MaskedLMHead` are used as is;
`rematerialize` gives its encoder block gradient checkpointing,
`use_fast_dropout` its dropout layers a faster form, unbiased in bfloat16,
`use_fused_layer_norm` its LayerNorms, `use_lean_attention` its
attention, `use_flat_einsum_dense` its attention projections and
`use_fused_block` its dropout, residual adds and LayerNorms lighter
training-step forms)."""

from keras_electra.layers.discriminator_head import DiscriminatorHead
from keras_electra.layers.electra_embeddings import ElectraEmbeddings
from keras_electra.layers.fast_dropout import fast_dropout, use_fast_dropout
from keras_electra.layers.flat_einsum_dense import flat_equation, use_flat_einsum_dense
from keras_electra.layers.fused_block import dropout_add_layer_norm, use_fused_block
from keras_electra.layers.fused_layer_norm import fused_layer_norm, use_fused_layer_norm
from keras_electra.layers.gdes_embeddings import GdesEmbeddings
from keras_electra.layers.lean_attention import lean_attention, use_lean_attention
from keras_electra.layers.rematerialize import rematerialize
