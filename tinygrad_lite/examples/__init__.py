"""The tutorial series run on tinygrad_lite: data, models, hand-derived gradients and the commands.

- `datasets`: make_moons (identical to scikit-learn's draws) and make_blobs, NumPy only.
- `equations`: the article's hand-derived gradients in NumPy.
- `models`: the perceptron, the 2-4-1 network and the multi-class network as `nn` modules.
- `training`: full-batch SGD with gradient checks along the way (and the jit hook).
- `article`, `multiclass`, `verify`: the three subcommands of `tinygrad-lite`.
- `progress`, `plotting`: the progress bar and the PNG figures.
"""
