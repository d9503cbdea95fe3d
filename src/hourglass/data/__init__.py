"""Load image datasets into memory as uint8 tensors (the leftmost stage of the pipeline)."""

from hourglass.data.download import download
from hourglass.data.registry import (
    SPECS,
    dataset_shape,
    list_datasets,
    load_dataset,
    parse_image_size,
    resolve_data_dir,
)
from hourglass.data.splits import ImageDataset, Split, flip4

__all__ = ["SPECS", "ImageDataset", "Split", "dataset_shape", "download", "flip4",
           "list_datasets", "load_dataset", "parse_image_size", "resolve_data_dir"]
