"""`ElectraConfig`: the typed, frozen description of a model and its pre-training.

Defaults are ELECTRA-Small as released (Clark et al., 2020, Table 6 and
`configure_pretraining.py` of google-research/electra). Every value can be
overridden from JSON, as the original `--hparams` flag allows:

```python
config = ElectraConfig.from_json("configs/electra_small.json")
config = config.with_overrides('{"num_train_steps": 1000, "learning_rate": 1e-3}')
```
"""

import dataclasses
import json
import typing

from keras_electra.atomic_io import atomic_write_text

# `ElectraConfig.mixed_precision` -> the Keras dtype policy the model is built under.
MIXED_PRECISION_POLICIES = {
    "float32": "float32",
    "bfloat16": "mixed_bfloat16",
    "float16": "mixed_float16",
}

# `ElectraConfig.hidden_act` values (`keras_electra.layers.activations` maps
# them to Keras functions; listed here too so the config imports no Keras).
HIDDEN_ACTS = ("gelu", "gelu_approximate")

# `ElectraConfig.objective` values (`ElectraPretrainer.OBJECTIVES`, listed here
# too so the config imports no Keras).
OBJECTIVES = ("electra", "mlm", "replace_mlm", "all_tokens_mlm")

# `ElectraConfig.embedding_sharing` values.
EMBEDDING_SHARING = ("tied", "gdes")

@dataclasses.dataclass(frozen=True)
class ElectraConfig:
    """Model sizes and pre-training hyperparameters of an ELECTRA run.

    Args:
        vocab_size: number of WordPiece ids; must match the vocabulary file.
        embedding_size: width of the shared token/position/segment embeddings.
        hidden_size: discriminator width.
        num_layers: discriminator (and, scaled by `generator_layers`,
            generator) depth.
        num_heads: discriminator attention heads.
        intermediate_size: discriminator feed-forward width.
        hidden_act: activation of both towers' feed-forward layers and of
            the discriminator head: "gelu", the exact (erf) GELU of the
            original ELECTRA and of Hugging Face's "gelu", or
            "gelu_approximate", the tanh approximation (Hugging Face's
            "gelu_new" / "gelu_pytorch_tanh", keras-hub's default), for
            checkpoints trained with it. The generator's MLM head keeps the
            exact GELU either way, as in Hugging Face.
        dropout: dropout on embeddings, attention probabilities and
            residual branches.
        max_position_embeddings: rows of the position table.
        type_vocab_size: number of segment ids.
        initializer_range: stddev of the truncated-normal initializer.
        layer_norm_epsilon: epsilon of every LayerNorm (1e-12 as in BERT).
        generator_hidden_size: generator width as a fraction of
            `hidden_size`, as in the original code.
        generator_layers: generator depth as a fraction of `num_layers`.
        generator_num_heads: explicit generator heads; `None` derives
            `max(1, width // 64)` like the original code.
        generator_intermediate_size: explicit generator FFN width; `None`
            derives `4 * width` like the original code.
        embedding_sharing: how the discriminator reads the word table it
            shares with the generator. "tied" (the original): one table,
            trained by both losses. "gdes" (gradient-disentangled embedding
            sharing, He et al. 2021, DeBERTaV3): the discriminator's word
            vectors are `stop_gradient(generator table) + residual`, the
            residual a table of its own that starts at zero, so the
            discriminator's loss never moves the generator's table;
            position/segment embeddings and the embedding LayerNorm stay
            shared. `discriminator_from_pretrainer` merges the two tables
            into one for fine-tuning. Needs objective "electra".
        max_seq_length: length of every pre-training example.
        objective: what the discriminator-sized encoder (the one fine-tuned)
            learns (Clark et al. 2020, section 3.2):
            "electra" (replaced-token detection on generator samples, the
            default); "mlm" (BERT's masked LM, no generator: of the chosen
            positions 80% become `[MASK]`, 10% a uniformly random
            non-special token, 10% stay; `mask_token_prob`, `temperature`,
            `generator_weight` and `discriminator_weight` are unused);
            "replace_mlm" (the chosen positions are corrupted as in
            "electra" and the encoder predicts their original tokens;
            loss = `generator_weight` * generator MLM + 1.0 * this MLM);
            "all_tokens_mlm" (as "replace_mlm", but the original token of
            every non-padding position is predicted, through the paper's
            copy mechanism: a sigmoid copy probability D from the
            discriminator head puts D on the input token and 1 - D on the
            MLM softmax). `discriminator_weight` weighs RTD only.
        mask_prob: fraction of maskable tokens the generator predicts
            (under "mlm": the encoder).
        mask_token_prob: of the chosen positions, the fraction replaced by
            `[MASK]` in the generator's input; the rest keep their token
            (the original uses no random replacements). Unused by "mlm",
            which has BERT's fixed 80/10/10.
        max_predictions_per_seq: static number of prediction slots per
            example; `None` derives `round((mask_prob + 0.005) * seq)`.
        temperature: generator sampling temperature.
        generator_weight: weight of the generator's MLM loss.
        discriminator_weight: weight of the replaced-token-detection loss
            (objective "electra"; the discriminator-side MLM of the other
            objectives has weight 1).
        learning_rate: peak learning rate.
        train_batch_size: global batch size.
        num_train_steps: total optimizer steps (the schedule decays to 0).
        num_warmup_steps: linear warmup steps.
        weight_decay: AdamW decay (not applied to LayerNorm and biases).
        adam_epsilon: AdamW epsilon.
        clip_norm: global gradient-norm clipping, applied to the gradient
            of each optimizer update (after loss-scale unscaling and after
            averaging accumulated micro-batches).
        gradient_accumulation_steps: micro-batches averaged into one
            optimizer update; 1 = none. `train_batch_size` stays the batch of
            one update (each micro-batch has `train_batch_size / k` examples)
            and `num_train_steps`/`num_warmup_steps` count updates, so `fit`
            runs `k * num_train_steps` steps.
        mixed_precision: "float32", "bfloat16" (Keras `mixed_bfloat16`) or
            "float16" (`mixed_float16`, with dynamic loss scaling).
        remat: rematerialise (gradient-checkpoint) every encoder block of
            both towers: the backward pass recomputes a block's activations
            instead of keeping them from the forward pass, with the same
            dropout masks, so the gradients are unchanged. Trades about one
            more forward pass for activation memory (see
            `keras_electra.layers.rematerialize` and README "Speed").
        seed: seed of masking, sampling, dropout and initialisation.
        vocab_file: optional path of the WordPiece `vocab.txt`.
        do_lower_case: lowercase text before WordPiece.

    Example:

    >>> config = ElectraConfig(vocab_size=1000, hidden_size=128, num_heads=2)
    >>> config.generator_width
    32
    """

    # Model.
    vocab_size: int = 30522
    embedding_size: int = 128
    hidden_size: int = 256
    num_layers: int = 12
    num_heads: int = 4
    intermediate_size: int = 1024
    hidden_act: str = "gelu"
    dropout: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_epsilon: float = 1e-12
    generator_hidden_size: float = 0.25
    generator_layers: float = 1.0
    generator_num_heads: typing.Optional[int] = None
    generator_intermediate_size: typing.Optional[int] = None
    embedding_sharing: str = "tied"
    # Objective.
    objective: str = "electra"
    max_seq_length: int = 128
    mask_prob: float = 0.15
    mask_token_prob: float = 0.85
    max_predictions_per_seq: typing.Optional[int] = None
    temperature: float = 1.0
    generator_weight: float = 1.0
    discriminator_weight: float = 50.0
    # Optimisation.
    learning_rate: float = 5e-4
    train_batch_size: int = 128
    num_train_steps: int = 1_000_000
    num_warmup_steps: int = 10_000
    weight_decay: float = 0.01
    adam_epsilon: float = 1e-6
    clip_norm: float = 1.0
    gradient_accumulation_steps: int = 1
    mixed_precision: str = "float32"
    remat: bool = False
    seed: int = 0
    # Data.
    vocab_file: typing.Optional[str] = None
    do_lower_case: bool = True

    def __post_init__(self):
        for field in dataclasses.fields(self):
            _check_type(field, getattr(self, field.name))
        positive = (
            "vocab_size", "embedding_size", "hidden_size", "num_layers",
            "num_heads", "intermediate_size", "max_position_embeddings",
            "type_vocab_size", "max_seq_length", "train_batch_size",
            "num_train_steps", "generator_num_heads",
            "generator_intermediate_size", "max_predictions_per_seq",
            "initializer_range", "layer_norm_epsilon", "temperature",
            "learning_rate", "adam_epsilon", "clip_norm",
            "gradient_accumulation_steps",
        )
        for name in positive:
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"ElectraConfig.{name} must be positive, got {value!r}.")
        for name in ("num_warmup_steps", "generator_weight", "discriminator_weight",
                     "weight_decay"):
            if getattr(self, name) < 0:
                raise ValueError(
                    f"ElectraConfig.{name} must be >= 0, got {getattr(self, name)!r}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ElectraConfig.dropout must be in [0, 1), got {self.dropout!r}.")
        for name in ("generator_hidden_size", "generator_layers"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"ElectraConfig.{name} must be in (0, 1], got {value!r}.")
        if not 0.0 < self.mask_prob < 1.0:
            raise ValueError(f"ElectraConfig.mask_prob must be in (0, 1), got {self.mask_prob!r}.")
        if not 0.0 <= self.mask_token_prob <= 1.0:
            raise ValueError(
                f"ElectraConfig.mask_token_prob must be in [0, 1], got {self.mask_token_prob!r}.")
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"ElectraConfig.hidden_size ({self.hidden_size}) must be divisible by "
                f"num_heads ({self.num_heads}).")
        if self.generator_width % self.generator_heads:
            raise ValueError(
                f"ElectraConfig.generator_num_heads ({self.generator_heads}) must divide the "
                f"generator width ({self.generator_width}).")
        if self.hidden_act not in HIDDEN_ACTS:
            raise ValueError(
                f"ElectraConfig.hidden_act must be one of {list(HIDDEN_ACTS)}, "
                f"got {self.hidden_act!r}.")
        for name, allowed in (("objective", OBJECTIVES),
                              ("embedding_sharing", EMBEDDING_SHARING)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"ElectraConfig.{name} must be one of {list(allowed)}, "
                                 f"got {getattr(self, name)!r}.")
        if self.embedding_sharing == "gdes" and self.objective != "electra":
            # "mlm" has no generator to share with; the discriminator MLM head of
            # the other two would tie to one of the two tables (not implemented).
            raise ValueError(
                f"ElectraConfig.embedding_sharing 'gdes' needs objective 'electra', "
                f"got {self.objective!r}.")
        if self.mixed_precision not in MIXED_PRECISION_POLICIES:
            raise ValueError(
                f"ElectraConfig.mixed_precision must be one of "
                f"{sorted(MIXED_PRECISION_POLICIES)}, got {self.mixed_precision!r}.")
        if self.train_batch_size % self.gradient_accumulation_steps:
            raise ValueError(
                f"ElectraConfig.gradient_accumulation_steps ({self.gradient_accumulation_steps}) "
                f"must divide train_batch_size ({self.train_batch_size}).")
        if self.max_seq_length > self.max_position_embeddings:
            raise ValueError(
                f"ElectraConfig.max_seq_length ({self.max_seq_length}) exceeds "
                f"max_position_embeddings ({self.max_position_embeddings}).")
        if self.predictions_per_seq > self.max_seq_length:
            raise ValueError(
                f"ElectraConfig.max_predictions_per_seq ({self.predictions_per_seq}) exceeds "
                f"max_seq_length ({self.max_seq_length}).")

    # Derived sizes (the original `get_generator_config`).
    @property
    def generator_width(self) -> int:
        return max(1, int(round(self.hidden_size * self.generator_hidden_size)))

    @property
    def generator_depth(self) -> int:
        return max(1, int(round(self.num_layers * self.generator_layers)))

    @property
    def generator_heads(self) -> int:
        if self.generator_num_heads is not None:
            return self.generator_num_heads
        return max(1, self.generator_width // 64)

    @property
    def generator_ffn(self) -> int:
        if self.generator_intermediate_size is not None:
            return self.generator_intermediate_size
        return 4 * self.generator_width

    @property
    def dtype_policy(self) -> str:
        """The Keras dtype policy name of `mixed_precision`."""
        return MIXED_PRECISION_POLICIES[self.mixed_precision]

    @property
    def micro_batch_size(self) -> int:
        """Examples per `fit` step: `train_batch_size / gradient_accumulation_steps`."""
        return self.train_batch_size // self.gradient_accumulation_steps

    @property
    def predictions_per_seq(self) -> int:
        if self.max_predictions_per_seq is not None:
            return self.max_predictions_per_seq
        return int(round((self.mask_prob + 0.005) * self.max_seq_length))

    # Serialisation.
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str = "config") -> "ElectraConfig":
        """Builds a config; an unknown key is an error that names it."""
        if not isinstance(values, dict):
            raise ValueError(f"{source}: expected a JSON object, got {type(values).__name__}.")
        known = {field.name for field in dataclasses.fields(cls)}
        for key in values:
            if key not in known:
                raise ValueError(f"{source}: unknown ElectraConfig key {key!r}.")
        return cls(**values)

    @classmethod
    def from_json(cls, path: str) -> "ElectraConfig":
        return cls.from_dict(_read_json_file(path), source=path)

    def to_json(self, path: str) -> None:
        """Writes the config atomically (temp name, then rename)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    def with_overrides(self, hparams) -> "ElectraConfig":
        """Returns a copy updated from a dict, a JSON string or a JSON file path."""
        if not hparams:
            return self
        source = "--hparams"
        if isinstance(hparams, str):
            if hparams.strip().startswith("{"):
                try:
                    hparams = json.loads(hparams)
                except json.JSONDecodeError as e:
                    raise ValueError(f"--hparams: invalid JSON ({e}).") from None
            else:
                source = hparams
                hparams = _read_json_file(hparams)
        merged = self.to_dict()
        if not isinstance(hparams, dict):
            raise ValueError(f"{source}: expected a JSON object.")
        for key in hparams:
            if key not in merged:
                raise ValueError(f"{source}: unknown ElectraConfig key {key!r}.")
        merged.update(hparams)
        return ElectraConfig.from_dict(merged, source=source)


def _read_json_file(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{path}: config file not found.") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: invalid JSON ({e}).") from None


def _check_type(field, value):
    """JSON has no int/float distinction worth trusting; accept ints for floats."""
    name = field.name
    expected = field.type
    optional = typing.get_origin(expected) is typing.Union
    if optional:
        if value is None:
            return
        expected = [t for t in typing.get_args(expected) if t is not type(None)][0]
    if expected is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return
    if expected is int and isinstance(value, int) and not isinstance(value, bool):
        return
    if expected in (bool, str) and isinstance(value, expected):
        return
    raise ValueError(
        f"ElectraConfig.{name} must be {expected.__name__}"
        f"{' or null' if optional else ''}, got {value!r}.")
