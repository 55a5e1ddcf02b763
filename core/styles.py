"""The style labels, in the fixed order the model's outputs use."""

STYLES: tuple[str, ...] = ("3d", "flat", "hand_drawn", "line_art")
