"""The Vision Transformer. spec.py: config and counts; net.py: the module."""
