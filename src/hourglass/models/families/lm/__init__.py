"""The character-level Transformer language model.
spec.py: config and counts; net.py: the module."""
