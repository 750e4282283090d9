"""The stages of Figure 2 as a small DAG (DESIGN.md §2): asking for one builds what it needs.

    data --> seeder ----\\
    data --> saliency ---+--> guide --> segmenter --> evaluate
    data (ground truth, --guide=gt) ------^
"""
