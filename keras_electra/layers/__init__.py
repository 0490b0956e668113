"""Layers keras-hub does not provide (its `TransformerEncoder`,
`ReversibleEmbedding`, `PositionEmbedding` and `MaskedLMHead` are used as is;
`rematerialize` gives its encoder block gradient checkpointing,
`use_float32_dropout` its dropout layers an unbiased bfloat16 form)."""

from keras_electra.layers.discriminator_head import DiscriminatorHead
from keras_electra.layers.electra_embeddings import ElectraEmbeddings
from keras_electra.layers.float32_dropout import float32_dropout, use_float32_dropout
from keras_electra.layers.gdes_embeddings import GdesEmbeddings
from keras_electra.layers.rematerialize import rematerialize
