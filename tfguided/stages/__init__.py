"""The stages of Figure 2 as a small DAG (README.md "What happens"), orchestration only; may import anything in
tfguided. One entry per stage in table.py; asking for one builds what it needs (pipeline.py).

    data --> seeder ----\\
    data --> saliency ---+--> guide --> segmenter --> evaluate
    data (ground truth, --guide=gt) ------^
"""
