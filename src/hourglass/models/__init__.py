"""Model families (family.py: the plug-in interface and registry): the residual MLP (one class
for the Hourglass and the conventional shape), the Vision Transformer, the MLP-Mixer and the
character-level Transformer language model; and the public residual feed-forward block
(ffn.py) for users' own Transformers.

Names load on first use (PEP 562): configs and their counts (``*_config``) need no PyTorch,
so `hourglass params` answers without importing it. The list of registered families is
``hourglass.models.registry.families()``: here ``families`` is the package of the built-in
families' folders, once any of them is imported."""

from hourglass.core.lazy import lazy

__getattr__, __all__ = lazy(__name__, {
    "INPUT_PROJS": "hourglass.core.choices",
    "MLPConfig": "hourglass.models.families.mlp.spec",
    "count_params": "hourglass.models.families.mlp.spec",
    "Block": "hourglass.models.layers.blocks",
    "ResidualMLP": "hourglass.models.families.mlp.net",
    "fixed_projection": "hourglass.models.layers.blocks",
    "Family": "hourglass.models.family",
    "Dim": "hourglass.models.family",
    "register": "hourglass.models.family",
    "check_shape": "hourglass.models.family",
    "shape_of": "hourglass.models.family",
    "space_name": "hourglass.models.family",
    "load_plugin": "hourglass.models.registry",
    "get_family": "hourglass.models.registry",
    "VARIANTS": "hourglass.models.family",
    "ViTConfig": "hourglass.models.families.vit.spec",
    "MixerConfig": "hourglass.models.families.mixer.spec",
    "MLPMixer": "hourglass.models.families.mixer.net",
    "VisionTransformer": "hourglass.models.families.vit.net",
    "FeedForward": "hourglass.models.layers.ffn",
    "ResidualFFN": "hourglass.models.layers.ffn",
    "LMConfig": "hourglass.models.families.lm.spec",
    "LanguageModel": "hourglass.models.families.lm.net",
})
