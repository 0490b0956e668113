"""Layers keras-hub does not provide (its `TransformerEncoder`,
`ReversibleEmbedding`, `PositionEmbedding` and `MaskedLMHead` are used as is)."""

from keras_electra.layers.discriminator_head import DiscriminatorHead
from keras_electra.layers.electra_embeddings import ElectraEmbeddings
from keras_electra.layers.gdes_embeddings import GdesEmbeddings
