"""The values the command line and config files accept, in one module that imports nothing
heavy, so that `hourglass --help` answers without loading PyTorch. The modules that act on
these values import them from here."""

IMAGE_TASKS = ("prototype", "denoise", "superres", "classify")
TASKS = (*IMAGE_TASKS, "lm")  # lm: next-character prediction (the lm family)
DATASETS = ("digits, mnist, fashion-mnist, cifar10, imagenet32 or folder:PATH; for the lm task "
            "moby-dick, tinyshakespeare or text:PATH")
INPUT_PROJS = ("learned", "fixed", "identity")
NORMS = ("batch", "layer", "rms", "none")
ACTS = ("relu", "gelu")  # the MLP's
MODEL_ACTS = ("relu", "gelu", "swiglu")  # any family's (the ViT takes swiglu too)
# flip4: the authors' x4 flip copy of the training set; crop-flip: a random crop of the
# 4-pixel zero-padded image and a random horizontal flip, drawn per batch; crop-flip-trivial:
# then one TrivialAugment operation per image
AUGMENTS = ("none", "flip4", "crop-flip", "crop-flip-trivial")
# numpy: the authors' NumPy RandomState(seed).permutation (PROTOCOL.md, Data). torch: the
# torch.randperm split this tool used before (recipe v1).
SPLIT_RNGS = ("numpy", "torch")
# none: images in [0, 1], as the paper feeds them; channel: each channel standardised by the
# training split's mean and standard deviation (classification)
INPUT_NORMS = ("none", "channel")
LR_SCHEDULES = ("epoch", "step", "cosine")  # linear decay stepped once per epoch, or per optimizer
# step; or warm-up then cosine decay to a tenth (the language model's)
# torch: nn.Dropout's Bernoulli masks; int16: masks from random 16-bit integers, p rounded to
# a multiple of 1/65,536 (models/layers/dropout.py), about 3x cheaper to draw
DROPOUT_MASKS = ("torch", "int16")
TEST_CHECKPOINTS = ("last", "best")  # the final model, or the one with the lowest eval loss
STRATEGIES = ("grid", "random", "nsga2", "pareto-halving", "lr-then-seeds")
COMPARE_MINUTES = 4.0  # `compare`'s default budget: leaves time for the report within 5 min
