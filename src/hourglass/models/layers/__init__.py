"""Layers the families share: the residual feed-forward block (ffn), the MLP block and its
variants (blocks, blocks_config), patches in and out (patches, patch_config), the norm and
activation tables (norm_act) and the synchronised BatchNorm (sync_norm)."""
