"""Size limits every family's config checks before anything is allocated: a width above
MAX_WIDTH or a model above MAX_PARAMS parameters is refused with one line."""

MAX_WIDTH = 1_000_000
MAX_PARAMS = 2_000_000_000
