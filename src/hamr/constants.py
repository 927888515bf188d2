"""Constants shared by the data, task and loss layers."""

#: The label of an item that takes no part in a loss or a metric (padding, special tokens, non-first sub-words),
#: as in ``torch.nn.functional.cross_entropy``'s ``ignore_index`` and transformers' data collators.
IGNORE_INDEX = -100

#: The batch key that carries every training example's position in the training set.
INDEX_KEY = "example_index"
