"""tfguided: Guided Segmentation (Oh et al., CVPR 2017); one room per concern, README.md "Layout"."""
