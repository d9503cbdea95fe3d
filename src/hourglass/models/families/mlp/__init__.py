"""The residual MLP (Hourglass and conventional). spec.py: config and counts; net.py: the module."""
