from . import bp  # noqa: F401  (views come with the pipeline pages)
