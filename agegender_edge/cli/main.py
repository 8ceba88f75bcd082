"""``agegender-edge`` entry point. Subcommands are imported lazily so that ``--help`` and the
runtime commands never import torch (the ``[train]`` extra) or tensorrt (the ``[gpu]`` extra)."""
from __future__ import annotations

import importlib
import logging

import click

from .._version import __version__

# command name -> (module, function, one-line help shown by `agegender-edge --help`)
COMMANDS = {
    "predict": ("agegender_edge.cli.predict", "predict", "Predict age group, age and gender for faces in images."),
    "prepare": ("agegender_edge.cli.prepare", "prepare", "Pack Adience folds or a UTKFace folder into one .h5 [train]."),
    "train": ("agegender_edge.cli.train", "train", "Train a model from a prepared .h5 [train]."),
    "evaluate": ("agegender_edge.cli.evaluate", "evaluate", "Evaluate an ONNX model or checkpoint on labelled faces."),
    "export": ("agegender_edge.cli.export", "export", "Export a checkpoint to ONNX (and FP16 / INT8 / TensorRT)."),
    "bench": ("agegender_edge.cli.bench", "bench", "Measure latency and throughput of models and the pipeline."),
    "calibrate": ("agegender_edge.cli.calibrate", "calibrate",
                  "Fit gender temperature and age-interval calibration on held-out faces [train]."),
    "label": ("agegender_edge.cli.label", "label", "Label many images into a resumable Parquet dataset [parquet]; --engine ray [distributed]."),
    "video": ("agegender_edge.cli.video", "video", "Tracked faces, smoothed age and gender in a video file, camera or stream."),
    "serve": ("agegender_edge.cli.serve", "serve", "HTTP service with a web page, metrics and cross-request batching [serve]."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("agegender_edge"):
                return None  # command not built into this installation
            raise

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """A usage error (bad option value, missing argument, unwritable output) is ONE line naming
        the problem and exit 2 (docs/ERRORS.md); ``--help`` shows the usage."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        import sys
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agegender-edge")
@click.option("-v", "--verbose", count=True,
              help="Log backend and detector choices, and what FFmpeg / OpenCV / libpng print (-vv: debug).")
def cli(verbose: int) -> None:
    """agegender-edge: age group, age and gender from face photos, on CPUs, GPUs and Jetsons."""
    from .native_output import capture_native_stderr

    capture_native_stderr()   # before logging takes its stream: the SDK's lines stay on the real stderr
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def require_extra(module: str, extra: str, feature: str):
    """Import a toolchain dependency or fail with the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        from ..install_hint import pip_install_extra
        raise click.ClickException(
            f"{feature} needs '{module}', which is not installed; install it with: "
            f"{pip_install_extra(extra)}")


def model_argument(model, *, file_only: bool = False):
    """--model value -> an existing path: None = the default, a shipped model's name, or a path;
    a usage error (exit 2) otherwise (file_only: directories are refused too). The built-in
    default missing from the installation is not the user's mistake: exit 1."""
    from ..shipped import resolve_model
    from .options import check_model

    if model is not None:
        check_model(model, file_only=file_only)
    path = resolve_model(model)
    if not (path.is_file() if file_only else path.exists()):
        raise click.ClickException(f"model not found: {path} (the default model is missing from this "
                                   f"installation; reinstall agegender-edge or pass --model)")
    return path


if __name__ == "__main__":  # pragma: no cover
    cli()
