"""Model families (family.py: the plug-in interface and registry): the residual MLP (one class
for the Hourglass and the conventional shape), the Vision Transformer, the MLP-Mixer and the
character-level Transformer language model; and the public residual feed-forward block
(ffn.py) for users' own Transformers.

Names load on first use (PEP 562): configs and their counts (``*_config``) need no PyTorch,
so `hourglass params` answers without importing it."""

from hourglass.lazy import lazy

__getattr__, __all__ = lazy(__name__, {
    "INPUT_PROJS": "hourglass.options",
    "MLPConfig": "hourglass.models.mlp_config",
    "count_params": "hourglass.models.mlp_config",
    "Block": "hourglass.models.blocks",
    "ResidualMLP": "hourglass.models.mlp",
    "fixed_projection": "hourglass.models.blocks",
    "Family": "hourglass.models.family",
    "families": "hourglass.models.family",
    "get_family": "hourglass.models.family",
    "VARIANTS": "hourglass.models.family",
    "ViTConfig": "hourglass.models.vit_config",
    "MixerConfig": "hourglass.models.mixer_config",
    "MLPMixer": "hourglass.models.mixer",
    "VisionTransformer": "hourglass.models.vit",
    "FeedForward": "hourglass.models.ffn",
    "ResidualFFN": "hourglass.models.ffn",
    "LMConfig": "hourglass.models.lm_config",
    "LanguageModel": "hourglass.models.lm",
})
