"""The built-in families, one folder each: ``spec.py`` (config, counts, FLOPs, recipe,
registration; no PyTorch) and ``net.py`` (the module). models/family.py finds every folder
here; no list names them."""
