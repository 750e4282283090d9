"""Guided Segmentation (Oh et al., CVPR 2017): train and evaluate every stage.

  python train_main.py --stage=segmenter                  # the embedded demo, end to end
  python train_main.py --stage=segmenter --guide=gt       # the fully supervised reference
  python train_main.py --stage=evaluate --preset=tiny     # builds what evaluate needs, then scores
  tensorboard --logdir runs/                              # watch it

Each stage builds the stages it needs first and reuses finished ones (see tfguided/stages).
"""

import os
import sys
import tempfile

from tfguided import cli

cli.import_tensorflow_quietly()

import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from tfguided import configs, registry  # noqa: E402
from tfguided.choices import PRECISIONS, STRATEGIES  # noqa: E402
from tfguided.crf import CRF_PARAMS  # noqa: E402
from tfguided.models import pretrained  # noqa: E402
from tfguided.stages import pipeline  # noqa: E402
from tfguided.stages.context import Context  # noqa: E402
from tfguided.train.strategy import configure_cpu_threads  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_enum("stage", "segmenter", list(pipeline.STAGES),
                  "Stage to build (its missing predecessors are built first): " + pipeline.stage_help() + ".")
flags.DEFINE_enum("preset", "demo", sorted(configs.PRESETS),
                  "Named configuration: demo (CPU, minutes), tiny (tests, about a minute), voc12 "
                  "(the paper's settings), voc_mini and voc_animals (real photos of ../shared/data); "
                  "each preset's docstring in tfguided/configs/presets.py gives its time and figures.")
flags.DEFINE_string("workdir", None, "Where stage artifacts go (default runs/<preset>).")
flags.DEFINE_string("data_dir", None, "Folder with converted voc/ and msra/ TFRecords (see python -m "
                    "tfrecords_tools). Default: generate the demo data under the workdir.")
flags.DEFINE_enum("guide", None, list(registry.GUIDES.names()) + [registry.GROUND_TRUTH],
                  "Guide labels for the segmenter (Table 2; sets guide.strategy): " + registry.GUIDES.help()
                  + f"; {registry.GROUND_TRUTH} = ground-truth masks (fully supervised). Default: the preset's (g2).")
flags.DEFINE_enum("seeder", None, list(registry.SEEDERS.names()),
                  "Seeder (Table 1; sets seeder.arch): " + registry.SEEDERS.help() + ". Only the GAP "
                  "nets make guides; the others are for --stage=seed_eval. Default: the preset's.")
flags.DEFINE_enum("saliency", None, list(registry.SALIENCY.names()),
                  "Saliency for the guides (sets saliency.method): " + registry.SALIENCY.help()
                  + ". Default: the preset's.")
flags.DEFINE_enum("crf_seed", "none", ["none"] + list(CRF_PARAMS),
                  "crf-seed (supp. C): refine the seeds with a dense CRF with the DeepLab (v2) or SEC "
                  "(v1) parameters.")
flags.DEFINE_enum("crf_loss", "none", ["none"] + list(CRF_PARAMS),
                  "crf-loss (supp. C): add SEC's constrain-to-boundary loss to the segmenter's "
                  "training, with the DeepLab (v2) or SEC (v1) CRF parameters.")
flags.DEFINE_enum("crf_postproc", None, list(CRF_PARAMS),
                  "crf-postproc (supp. C): CRF parameters of the evaluation's post-processing "
                  "(default: the preset's, DeepLab). The evaluation reports mIoU with and without it.")
flags.DEFINE_enum("strategy", "mirrored", list(STRATEGIES),
                  "tf.distribute strategy: mirrored = all GPUs (or all logical CPUs); multi_worker = "
                  "MultiWorkerMirroredStrategy from TF_CONFIG; default = no distribution.")
flags.DEFINE_string("init_weights", None, "ImageNet weights for the networks of the file's backbone: "
                    "VGG-16's .h5 with the top, as keras.applications saves it; ResNet-101's without "
                    "the top (net.backbone=resnet101, voc12's saliency net); or MobileNet "
                    "v1's .h5 without the top at the net's alpha (e.g. ../shared/data/weights/"
                    "mobilenet_2_5_224_tf_no_top.h5); default: the preset's net.init (voc12: "
                    "'imagenet', downloaded once by keras.applications; CPU presets: random).")
flags.DEFINE_enum("precision", "float32", list(PRECISIONS),
                  "Training arithmetic of every network: mixed_float16 on GPUs (with loss scaling), "
                  "mixed_bfloat16 on TPUs and recent CPUs; logits and losses stay float32.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile every training step (not with --crf_loss, whose "
                  "CRF runs outside the graph). Default: Keras decides (XLA on GPUs where it can).")
flags.DEFINE_bool("dry_run", False, "Print the resolved configuration and build the stage's networks "
                  "at full size (shapes, parameter counts) without data or training.")
flags.DEFINE_multi_string("override", [], "Config override section.field=value, repeatable, e.g. "
                          "--override=seeder.train.steps=100 --override=guide.tau=0.3. Every field, "
                          "with its value in the preset: --list_overrides.")
flags.DEFINE_bool("list_overrides", False, "Print every config field --override can set, with its "
                  "value in --preset and its type, and exit.")
flags.DEFINE_integer("rounds", None, "Self-training rounds (beyond the paper; sets self_training.rounds): "
                     "round k > 1 trains a new segmenter on the CRF-refined predictions of round "
                     "k-1's segmenter on the training images (restricted to their image labels, "
                     "unconfident pixels ignored); every round is a stage directory of its own. "
                     "Default: the preset's, 1 (the paper).")
flags.DEFINE_integer("seed", None, "One seed for every random draw: sets data.rng_seed, guide.rng_seed "
                     "and each network's train.rng_seed (default: the preset's, 0).")


def flag_overrides(base):
    """The shortcut flags as config overrides (so they name stage directories like --override);
    --init_weights goes to the networks of the file's backbone in `base` (the preset, overridden)."""
    out = []
    if FLAGS.seed is not None:
        out += [f"{key}={FLAGS.seed}" for key in configs.fields(base) if key.endswith(".rng_seed")]
    if FLAGS.rounds is not None:
        out.append(f"self_training.rounds={FLAGS.rounds}")
    if FLAGS.guide:
        out.append(f"guide.strategy={FLAGS.guide}")
    if FLAGS.seeder:
        out.append(f"seeder.arch={FLAGS.seeder}")
    if FLAGS.saliency:
        out.append(f"saliency.method={FLAGS.saliency}")
    if FLAGS.init_weights:
        backbone = pretrained.file_backbone(FLAGS.init_weights)
        sections = [s for s in ("seeder", "classifier", "saliency", "segmenter")
                    if getattr(base, s).net.backbone == backbone]
        if not sections:
            raise ValueError(f"--init_weights={FLAGS.init_weights}: {backbone} weights, but no network "
                             f"of preset {FLAGS.preset!r} has net.backbone={backbone}")
        out += [f"{s}.net.init={FLAGS.init_weights}" for s in sections]
    trained = [s for s in ("seeder", "classifier", "saliency", "segmenter")
               if s != "saliency" or registry.SALIENCY[base.saliency.method]["trains"]]
    if FLAGS.precision != "float32":
        out += [f"{s}.train.precision={FLAGS.precision}" for s in trained]
    if FLAGS.jit_compile:
        out += [f"{s}.train.jit_compile=true" for s in trained]
    if FLAGS.crf_seed != "none":
        out.append(f"guide.crf_seed={FLAGS.crf_seed}")
    if FLAGS.crf_loss != "none":
        out.append(f"segmenter.crf_loss={FLAGS.crf_loss}")
    if FLAGS.crf_postproc:
        out.append(f"evaluate.crf.params={FLAGS.crf_postproc}")
    return out


SHORTCUTS = {"guide": "guide.strategy", "seeder": "seeder.arch", "saliency": "saliency.method",
             "rounds": "self_training.rounds", "crf_postproc": "evaluate.crf.params"}


def check_shortcuts(base):
    """A shortcut flag and an --override of its field must agree: refused, naming both, if not."""
    for flag, field in SHORTCUTS.items():
        value = getattr(FLAGS, flag)
        overridden = [o for o in FLAGS.override if o.partition("=")[0].strip() == field]
        if value is not None and overridden and str(configs.fields(base)[field]) != str(value):
            raise ValueError(f"--{flag}={value} and --override={overridden[-1]} disagree; give one of them")


def check_workdir(path):
    """Fails early, naming --workdir, if stage artifacts could not be written there."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise ValueError(f"--workdir={path}: cannot write there ({e.strerror or e})") from None


def fail(error):
    """Prints the error on a line of its own (a progress bar may have left the cursor mid-line)."""
    sys.stdout.flush()
    print(("\n" if sys.stderr.isatty() else "") + f"error: {error}", file=sys.stderr)
    return 2


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}; every option is a --flag")
    if FLAGS.strategy != "multi_worker":
        configure_cpu_threads()
    try:
        base = configs.override(configs.preset(FLAGS.preset), FLAGS.override)
        check_shortcuts(base)
        config = configs.override(configs.preset(FLAGS.preset), FLAGS.override + flag_overrides(base))
        if FLAGS.list_overrides:
            print(f"--override fields of preset {FLAGS.preset} (value: type):")
            for key, value in configs.fields(config).items():
                print(f"  {key}={value}  ({type(value).__name__})")
            return 0
        workdir = FLAGS.workdir or os.path.join("runs", FLAGS.preset)
        stage = pipeline.target_stage(FLAGS.stage)
        if FLAGS.dry_run:
            print(pipeline.dry_run(config, stage, FLAGS.data_dir))
            return 0
        check_workdir(workdir)
        ctx = Context(config, workdir, FLAGS.data_dir, FLAGS.strategy)
        if FLAGS.strategy == "multi_worker":
            ctx.strategy()  # MultiWorkerMirroredStrategy must exist before TensorFlow runs anything
        results = pipeline.ensure(ctx, stage)
    except (ValueError, OSError, KeyError, FloatingPointError) as e:
        return fail(e)
    except tf.errors.OpError as e:  # e.g. raised inside the guide stage's tf.py_function
        return fail(e.message)
    except KeyboardInterrupt:
        print("\ninterrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    if stage == "evaluate" and "miou" in results:
        print(f"miou={results['miou']:.2f} miou_crf={results['miou_crf']:.2f} "
              f"({ctx.stage_dir('evaluate')}/metrics.json)")
    elif stage == "evaluate":
        print(f"no masks on the eval photos: image-level mAP={results['image_map']:.2f} "
              f"({ctx.stage_dir('evaluate')}/metrics.json, panels beside it)")
    return 0


if __name__ == "__main__":
    cli.run(main)
