"""A ConvNeXt-style image family for hourglass-mlp (spec.py: config, counts, registration;
net.py: the module). Importing the package registers the family, so `--plugin` may name the
folder as well as the module."""

from . import spec  # noqa: F401  (registers the family)
