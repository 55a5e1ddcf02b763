"""The training corpus of real, human-made illustrations: pinned packages in, labelled folder out."""
