"""The MLP-Mixer. spec.py: config and counts; net.py: the module."""
