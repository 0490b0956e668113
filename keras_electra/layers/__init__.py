"""Layers keras-hub does not provide (its `TransformerEncoder`,
`ReversibleEmbedding`, `PositionEmbedding` and `MaskedLMHead` are used as is;
`rematerialize` gives its encoder block gradient checkpointing,
`use_fast_dropout` its dropout layers a faster form, unbiased in bfloat16)."""

from keras_electra.layers.discriminator_head import DiscriminatorHead
from keras_electra.layers.electra_embeddings import ElectraEmbeddings
from keras_electra.layers.fast_dropout import fast_dropout, use_fast_dropout
from keras_electra.layers.gdes_embeddings import GdesEmbeddings
from keras_electra.layers.rematerialize import rematerialize
