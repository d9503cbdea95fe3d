"""Load image datasets into memory as uint8 tensors (the leftmost stage of the pipeline).

Names load on first use (PEP 562): what a dataset is (``registry``'s specs and shapes) needs no
PyTorch, so `hourglass params` and `hourglass data list` answer without importing it."""

from hourglass.core.lazy import lazy

__getattr__, __all__ = lazy(__name__, {
    "download": "hourglass.data.download",
    "SPECS": "hourglass.data.registry",
    "dataset_shape": "hourglass.data.registry",
    "list_datasets": "hourglass.data.registry",
    "load_dataset": "hourglass.data.registry",
    "parse_image_size": "hourglass.data.registry",
    "resolve_data_dir": "hourglass.data.registry",
    "ImageDataset": "hourglass.data.splits",
    "Split": "hourglass.data.splits",
    "flip4": "hourglass.data.splits",
})
