"""tfguided: weakly supervised semantic segmentation from image-level labels guided by saliency.

Install for CPU:  pip install -e '.[cpu]'      (tests: '.[cpu,test]')
Install for GPU:  pip install -e '.[gpu]'      (never both: tensorflow and tensorflow-cpu clash)
"""

from setuptools import find_packages, setup

setup(
    name="tfguided",
    version="0.1.0",
    description="Guided Segmentation (Oh et al., CVPR 2017) in TensorFlow/Keras 3",
    packages=find_packages(include=["tfguided", "tfguided.*", "tfrecords_tools", "tfrecords_tools.*"]),
    py_modules=["train_main"],
    package_data={"tfguided": ["weights/*.keras"]},
    python_requires=">=3.10",
    install_requires=[
        "keras>=3.10,<4",
        "tensorboard>=2.21,<2.22",
        "numpy>=1.26,<2.5",
        "opencv-python-headless==5.0.0.93",
        "absl-py>=2.1",
        "pydensecrf2==1.1",
        "scipy>=1.11",  # SBD's .mat masks, component boxes in G2
        "pycocotools==2.0.11",  # COCO's own polygon and RLE decoding (tfrecords_tools coco)
    ],
    extras_require={
        "cpu": ["tensorflow-cpu==2.21.0"],
        "gpu": ["tensorflow[and-cuda]==2.21.0"],
        # pillow: CMYK and alpha test images; xdist: two workers (pytest.ini), whose --dist loadgroup
        # does not group under pytest 9.2 (it renamed the node id xdist 3.8 rewrites)
        "test": ["pytest==8.4.2", "pytest-xdist==3.8.0", "pillow>=10"],
    },
)
